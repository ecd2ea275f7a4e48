import { EventEmitter } from 'node:events';
import { ErrorCode, HopError } from '@hopgate/errors';
import { lazyChild, type Logger } from '@hopgate/log';
import { AckTracker } from './ack-tracker.js';
import {
  MAX_CLOSE_REASON_BYTES,
  MAX_DATAGRAM_SIZE_BYTES,
  MAX_PACKETS_PER_FLUSH,
  MAX_RECEIVE_SEGMENTS_PER_CONNECTION,
  MIN_DATAGRAM_SIZE_BYTES,
  MIN_STREAM_FRAME_BYTES,
  PROBE_PACKETS_PER_TIMEOUT,
  TIMER_GRANULARITY_MS,
} from './constants.js';
import { ControlFrames } from './control-frames.js';
import type { DatagramLink } from './datagram-link.js';
import { ConnectionCloseError, StreamResetCode, TransportErrorCode, errorCodeForClose } from './errors.js';
import { ackFrameSize, writeAckFrame, writeFrame } from './frame-codec.js';
import { type ConnectionCloseFrame, type Frame, FrameType, isAckEliciting } from './frames.js';
import type { CongestionController } from './congestion-controller.js';
import { DeadPeerDetector } from './dead-peer-detector.js';
import { LossDetector, type PacketFateHandler } from './loss-detector.js';
import { LossTolerantController } from './loss-tolerant-controller.js';
import { NewReno } from './new-reno.js';
import { type ConnectionOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Pacer } from './pacer.js';
import { PmtuSearch } from './pmtu-search.js';
import { PacketBuilder } from './packet-builder.js';
import { decodePacket, finishPacket, writePacketHeader } from './packet-codec.js';
import { ReceiveWindow } from './receive-window.js';
import { RttEstimator } from './rtt-estimator.js';
import { SENT_PING, type SentFrame, SentFrameKind, type SentPacket } from './sent-packet.js';
import type { ConnectionStats } from './stats.js';
import { StreamCore, type StreamHost } from './stream-core.js';
import { StreamRegistry } from './stream-registry.js';
import { TransportStream } from './transport-stream.js';
import { ByteReader } from './varint.js';

/** What the reader points at between datagrams. */
const NO_DATAGRAM = new Uint8Array(0);

export interface Connection {
  on(event: 'stream', listener: (stream: TransportStream) => void): this;
  on(event: 'close', listener: (err: ConnectionCloseError) => void): this;
  once(event: 'stream', listener: (stream: TransportStream) => void): this;
  once(event: 'close', listener: (err: ConnectionCloseError) => void): this;
}

/**
 * A QUIC-shaped connection (RFC 9000 §2-4, 13, 19; RFC 9002) over a DatagramLink:
 * reliable, ordered, flow-controlled bidirectional streams, multiplexed in packets of at
 * most `link.maxDatagramSize` bytes, with loss recovery, congestion control and pacing.
 *
 * Events: 'stream' (a peer-opened TransportStream; without a listener, peer streams are
 * refused with a reset), 'close' (once, with a ConnectionCloseError whose code is
 * ERR_CLOSED, ERR_TIMEOUT or ERR_PROTOCOL).
 */
export class Connection extends EventEmitter implements StreamHost, PacketFateHandler {
  private readonly link: DatagramLink;
  private readonly opts: ResolvedOptions;
  private readonly log: Logger;
  /** Size packets are built at: the link's base size, raised by path MTU discovery. */
  private maxPacketSize: number;
  /** Path MTU discovery (RFC 8899), when the link offers larger sizes and the option allows. */
  private readonly pmtu: PmtuSearch | undefined;
  private closeError: ConnectionCloseError | null = null;

  private readonly rtt = new RttEstimator();
  private readonly deadPeer = new DeadPeerDetector(this.rtt);
  /** Set by onPacketAcked while an ACK frame is processed: it acknowledged something new. */
  private ackedSomething = false;
  /** A dead-peer deadline passed; the verdict waits one loop turn for datagrams already received. */
  private deadPeerCheckPending = false;
  private readonly cc: CongestionController;
  private readonly pacer: Pacer;
  private readonly loss: LossDetector;
  private readonly acks = new AckTracker();
  private readonly builder = new PacketBuilder();
  private readonly reader = new ByteReader(NO_DATAGRAM);
  private readonly registry: StreamRegistry;
  private readonly control: ControlFrames;
  /** Round-robin queue of streams with something to send. */
  private readonly sendQueue = new Set<StreamCore>();
  private readonly probeScratch: SentPacket[] = [];
  /** The frames of the datagram being handled, emptied after each one (no array per datagram). */
  private readonly frameScratch: Frame[] = [];

  // ---- connection flow control (RFC 9000 §4.1)
  private readonly recvWindow: ReceiveWindow;
  private peerMaxData = 0;
  private dataSent = 0;
  private peerInitialStreamLimit = 0;
  /** Received segments held across all streams (bounded against fragmentation attacks). */
  private receiveSegments = 0;
  private probesToSend = 0;

  // ---- timing (performance.now() ms)
  private lastReceiveTime: number;
  private lastKeepAliveTime = -Infinity;
  private pacerWakeTime = Infinity;
  private timer: NodeJS.Timeout | null = null;
  private timerDeadline = Infinity;
  private flushScheduled = false;
  private readonly flushBound = (): void => this.flush();
  private readonly timerBound = (): void => {
    this.timer = null;
    this.timerDeadline = Infinity;
    this.flush();
  };

  private readonly counters = {
    packetsSent: 0,
    packetsReceived: 0,
    packetsRetransmitted: 0,
    ackOnlyPacketsSent: 0,
    bytesSent: 0,
    bytesReceived: 0,
    streamBytesRetransmitted: 0,
    garbageDropped: 0,
    duplicatesDropped: 0,
    probeTimeouts: 0,
    pmtuProbesSent: 0,
  };

  constructor(link: DatagramLink, options: ConnectionOptions) {
    super();
    this.opts = resolveOptions(options);
    // Made on the first record at an enabled level: an idle connection logs nothing (a child per connection is heap per session).
    this.log = lazyChild(this.opts.logger, { transport_role: options.role });
    if (link.maxDatagramSize < MIN_DATAGRAM_SIZE_BYTES) {
      throw new HopError(ErrorCode.BadConfig, `link.maxDatagramSize ${link.maxDatagramSize} is below ${MIN_DATAGRAM_SIZE_BYTES}`);
    }
    this.link = link;
    this.maxPacketSize = Math.min(link.maxDatagramSize, MAX_DATAGRAM_SIZE_BYTES);
    const candidates = (link.probeDatagramSizes ?? []).filter((size) => size <= MAX_DATAGRAM_SIZE_BYTES);
    this.pmtu = this.opts.pathMtuDiscovery && candidates.length > 0 ? new PmtuSearch(this.maxPacketSize, candidates) : undefined;
    this.cc =
      this.opts.congestionControl === 'new-reno' ? new NewReno(this.maxPacketSize) : new LossTolerantController(this.maxPacketSize);
    this.pacer = new Pacer(this.maxPacketSize);
    this.loss = new LossDetector(this.rtt, this.cc, this);
    this.recvWindow = new ReceiveWindow(this.opts.initialConnectionWindowBytes, this.opts.maxConnectionWindowBytes);
    this.registry = new StreamRegistry(this.opts.isClient, this.opts.maxIncomingStreams);
    const params = {
      type: FrameType.TransportParameters,
      initialMaxData: this.opts.initialConnectionWindowBytes,
      initialMaxStreamData: this.opts.initialStreamWindowBytes,
      initialMaxStreams: this.opts.maxIncomingStreams,
    } as const;
    this.control = new ControlFrames(params, this.registry, this.recvWindow, this.rtt);
    this.lastReceiveTime = performance.now();
    link.onDatagram((datagram) => this.onDatagram(datagram));
    link.onClose((err) => this.onLinkClosed(err));
    // Our transport parameters go out at once (there is no handshake to carry them).
    this.scheduleFlush();
  }

  // ================================================================ public API

  get closed(): boolean {
    return this.closeError !== null;
  }

  /** Streams with live state on this side (0 once every stream is closed or reset). */
  get streamCount(): number {
    return this.registry.size;
  }

  get smoothedRttMs(): number {
    return this.rtt.smoothedRtt;
  }

  /**
   * Opens a bidirectional stream. Throws HopError(ERR_BUSY) when the peer's stream limit
   * (MAX_STREAMS) is reached, HopError(ERR_CLOSED) after close. Streams opened before the
   * peer's parameters arrive wait for them before sending.
   */
  openStream(): TransportStream {
    if (this.closeError) throw new HopError(ErrorCode.Closed, 'connection is closed', { cause: this.closeError });
    return this.createStream(this.registry.allocateLocalId(), true);
  }

  /** Sends a PING (RFC 9000 §19.2): an RTT sample and a liveness check. */
  ping(): void {
    if (this.closeError) return;
    this.control.requestPing();
    this.scheduleFlush();
  }

  /**
   * Closes the connection: sends CONNECTION_CLOSE (application close, RFC 9000 §19.19)
   * with `code` and `reason`, destroys every stream with an ERR_CLOSED error, closes the link.
   */
  close(code = 0, reason = ''): void {
    if (this.closeError) return;
    const error = new ConnectionCloseError(ErrorCode.Closed, { closeCode: code, application: true, remote: false, reason });
    this.teardown(error, { type: FrameType.ApplicationClose, errorCode: code, reason });
  }

  stats(): ConnectionStats {
    const c = this.counters;
    return {
      packetsSent: c.packetsSent,
      packetsReceived: c.packetsReceived,
      packetsLost: this.loss.packetsLost,
      packetsRetransmitted: c.packetsRetransmitted,
      ackOnlyPacketsSent: c.ackOnlyPacketsSent,
      bytesSent: c.bytesSent,
      bytesReceived: c.bytesReceived,
      streamBytesSent: this.dataSent,
      streamBytesRetransmitted: c.streamBytesRetransmitted,
      streamBytesReceived: this.recvWindow.highestReceived,
      garbageDropped: c.garbageDropped,
      duplicatesDropped: c.duplicatesDropped,
      probeTimeouts: c.probeTimeouts,
      smoothedRttMs: this.rtt.smoothedRtt,
      minRttMs: this.rtt.minRtt,
      rttVarianceMs: this.rtt.rttVar,
      latestRttMs: this.rtt.latestRtt,
      congestionWindowBytes: this.cc.congestionWindow,
      slowStartThresholdBytes: this.cc.slowStartThreshold,
      congestionReductions: this.cc.reductions,
      toleratedLossEvents: this.cc.toleratedLossEvents,
      spuriousLosses: this.loss.spuriousLosses,
      bytesInFlight: this.cc.bytesInFlight,
      pacingRateBytesPerSecond: this.pacer.rateBytesPerSecond,
      streamCount: this.registry.size,
      peerMaxStreams: this.registry.peerMaxStreams,
      connectionWindowBytes: this.recvWindow.windowSize,
      maxDatagramSizeBytes: this.maxPacketSize,
      pmtuProbesSent: c.pmtuProbesSent,
      pmtuBlackHoles: this.pmtu?.blackHoles ?? 0,
    };
  }

  // ================================================================ StreamHost (called by StreamCore)

  now(): number {
    return performance.now();
  }

  activateStream(core: StreamCore): void {
    if (this.closeError || core.finished || this.sendQueue.has(core)) return;
    if (!core.isSendable(this.peerMaxData - this.dataSent)) return;
    this.sendQueue.add(core);
    this.scheduleFlush();
  }

  queueWindowUpdate(core: StreamCore): void {
    if (this.closeError || core.finished) return;
    this.control.queueWindowUpdate(core);
    this.scheduleFlush();
  }

  queueResetStream(streamId: number, errorCode: number, finalSize: number): void {
    if (this.closeError) return;
    this.control.queueResetStream(streamId, errorCode, finalSize);
    this.scheduleFlush();
  }

  queueStopSending(streamId: number, errorCode: number): void {
    if (this.closeError) return;
    this.control.queueStopSending(streamId, errorCode);
    this.scheduleFlush();
  }

  onStreamBytesReceived(bytes: number): boolean {
    return this.recvWindow.onReceivedBytes(bytes);
  }

  onStreamBytesConsumed(bytes: number): void {
    this.recvWindow.onConsumed(bytes, performance.now());
    if (!this.control.maxDataRequested && this.recvWindow.updateDue) {
      this.control.requestMaxData();
      this.scheduleFlush();
    }
  }

  onSegmentsChanged(delta: number): boolean {
    this.receiveSegments += delta;
    return this.receiveSegments <= MAX_RECEIVE_SEGMENTS_PER_CONNECTION;
  }

  onStreamFinished(core: StreamCore): void {
    this.sendQueue.delete(core);
    this.control.forgetStream(core);
    if (this.registry.remove(core)) {
      // RFC 9000 §4.6: a closed peer stream makes room for another.
      this.control.requestMaxStreams(performance.now());
      this.scheduleFlush();
    }
  }

  // ================================================================ PacketFateHandler (called by LossDetector)

  onPacketAcked(packet: SentPacket): void {
    this.ackedSomething = true;
    if (this.pmtu !== undefined) {
      if (packet.pmtuProbe) {
        if (this.pmtu.onProbeAcked(packet.size, performance.now())) this.applyPacketSize('probe acknowledged');
        return;
      }
      this.pmtu.onPacketAcked(packet.size);
    }
    if (packet.ackRanges !== null) this.acks.onAckAcknowledged(packet.ackRanges);
    for (const frame of packet.frames) {
      if (frame.kind === SentFrameKind.Stream) frame.owner.onStreamFrameAcked(frame.offset, frame.length, frame.fin);
      else this.control.onAcked(frame);
    }
  }

  onPacketLost(packet: SentPacket): void {
    if (this.pmtu !== undefined) {
      if (packet.pmtuProbe) {
        if (this.pmtu.onProbeLost(packet.size, performance.now())) this.applyPacketSize('black hole: large packets and probes of their size lost');
        return;
      }
      this.pmtu.onPacketLost(packet.size);
    }
    for (const frame of packet.frames) this.requeueFrame(frame);
    if (packet.frames.length > 0) this.scheduleFlush();
  }

  /** Puts a sent frame's information back to be sent again (RFC 9000 §13.3). */
  private requeueFrame(frame: SentFrame): void {
    if (frame.kind === SentFrameKind.Stream) frame.owner.onStreamFrameLost(frame.offset, frame.length, frame.fin);
    else this.control.onLost(frame);
  }

  // ================================================================ receiving

  private onDatagram(datagram: Uint8Array): void {
    if (this.closeError) return;
    this.counters.bytesReceived += datagram.length;
    const frames = this.frameScratch;
    try {
      this.handlePacket(datagram, frames);
    } finally {
      // The frames point into the datagram: an idle connection must hold neither.
      frames.length = 0;
    }
  }

  private handlePacket(datagram: Uint8Array, frames: Frame[]): void {
    const packetNumber = decodePacket(datagram, this.reader, frames);
    // The frames hold what they need of the datagram: the reader keeps none of it (an idle connection holds no datagram).
    this.reader.reset(NO_DATAGRAM, 0, 0);
    if (packetNumber < 0) {
      this.counters.garbageDropped++;
      return;
    }
    if (this.acks.isDuplicate(packetNumber)) {
      this.counters.duplicatesDropped++;
      return;
    }
    this.counters.packetsReceived++;
    const now = performance.now();
    this.lastReceiveTime = now;
    let ackEliciting = false;
    for (const frame of frames) {
      if (isAckEliciting(frame)) ackEliciting = true;
      const error = this.handleFrame(frame, now);
      if (this.closeError) return;
      if (error !== TransportErrorCode.NoError) {
        this.closeWithTransportError(error, `peer violated the protocol in frame type 0x${frame.type.toString(16)}`);
        return;
      }
    }
    this.acks.onPacketReceived(packetNumber, ackEliciting, now);
    this.scheduleFlush();
  }

  private handleFrame(frame: Frame, now: number): TransportErrorCode {
    switch (frame.type) {
      case FrameType.Ping:
      case FrameType.DataBlocked:
      case FrameType.StreamDataBlocked:
        return TransportErrorCode.NoError;
      case FrameType.ImmediateAck:
        this.acks.requestImmediateAck();
        return TransportErrorCode.NoError;
      case FrameType.Ack:
        this.ackedSomething = false;
        // RFC 9000 §13.1: acknowledging a packet never sent is a PROTOCOL_VIOLATION.
        if (!this.loss.onAckReceived(frame, now)) return TransportErrorCode.ProtocolViolation;
        if (this.ackedSomething) this.deadPeer.onAcknowledged(now, this.loss.ackElicitingInFlight > 0);
        return TransportErrorCode.NoError;
      case FrameType.Stream: {
        const core = this.streamFor(frame.streamId);
        if (typeof core === 'number') return core;
        return core ? core.onStreamFrame(frame.offset, frame.data, frame.fin) : TransportErrorCode.NoError;
      }
      case FrameType.ResetStream: {
        const core = this.streamFor(frame.streamId);
        if (typeof core === 'number') return core;
        return core ? core.onResetStream(frame.errorCode, frame.finalSize) : TransportErrorCode.NoError;
      }
      case FrameType.StopSending: {
        const core = this.streamFor(frame.streamId);
        if (typeof core === 'number') return core;
        core?.onStopSending(frame.errorCode);
        return TransportErrorCode.NoError;
      }
      case FrameType.MaxStreamData: {
        const core = this.streamFor(frame.streamId);
        if (typeof core === 'number') return core;
        core?.onMaxStreamData(frame.maximumStreamData);
        return TransportErrorCode.NoError;
      }
      case FrameType.MaxData:
        this.raisePeerMaxData(frame.maximumData);
        return TransportErrorCode.NoError;
      case FrameType.MaxStreams:
        this.raisePeerMaxStreams(frame.maximumStreams);
        return TransportErrorCode.NoError;
      case FrameType.ConnectionClose:
      case FrameType.ApplicationClose: {
        const application = frame.type === FrameType.ApplicationClose;
        const details = { closeCode: frame.errorCode, application, remote: true, reason: frame.reason };
        this.teardown(new ConnectionCloseError(errorCodeForClose(frame.errorCode, application), details), null);
        return TransportErrorCode.NoError;
      }
      case FrameType.TransportParameters:
        // Only the first copy counts (later ones are retransmissions).
        if (!this.registry.peerParamsKnown) {
          this.registry.peerParamsKnown = true;
          this.peerInitialStreamLimit = frame.initialMaxStreamData;
          this.raisePeerMaxData(frame.initialMaxData);
          this.raisePeerMaxStreams(frame.initialMaxStreams);
          for (const core of this.registry.streams.values()) core.onMaxStreamData(frame.initialMaxStreamData);
        }
        return TransportErrorCode.NoError;
    }
  }

  private streamFor(streamId: number): StreamCore | null | TransportErrorCode {
    return this.registry.resolve(streamId, (id) => {
      const stream = this.createStream(id, false);
      if (this.listenerCount('stream') === 0) stream.reset(StreamResetCode.Refused);
      else this.emit('stream', stream);
      return this.closeError === null;
    });
  }

  private createStream(id: number, isLocal: boolean): TransportStream {
    const window = new ReceiveWindow(this.opts.initialStreamWindowBytes, this.opts.maxStreamWindowBytes);
    const core = new StreamCore(id, isLocal, this, window, this.peerInitialStreamLimit, this.registry.sendAllowed(id));
    this.registry.add(core);
    return new TransportStream(core);
  }

  private raisePeerMaxData(maximum: number): void {
    if (maximum <= this.peerMaxData) return;
    this.peerMaxData = maximum;
    for (const core of this.registry.streams.values()) this.activateStream(core);
  }

  private raisePeerMaxStreams(maximum: number): void {
    if (!this.registry.raisePeerMaxStreams(maximum)) return;
    for (const core of this.registry.streams.values()) {
      if (!core.sendAllowed && this.registry.sendAllowed(core.id)) {
        core.sendAllowed = true;
        this.activateStream(core);
      }
    }
    this.scheduleFlush();
  }

  // ================================================================ sending

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closeError) return;
    this.flushScheduled = true;
    setImmediate(this.flushBound);
  }

  /** One event-loop turn of sending: timers, then as many packets as cwnd and pacer allow. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closeError) return;
    this.runTimers(performance.now());
    if (this.closeError) return;
    const now = performance.now();
    this.pacerWakeTime = Infinity;
    this.pacer.setRate(this.cc.congestionWindow, this.rtt.smoothedRtt);
    let sent = 0;
    // RFC 8899 §5.1: probe only when there is data to carry (an idle connection needs no larger size).
    if (this.pmtu !== undefined && this.probesToSend === 0 && this.hasAckElicitingWork(now) && this.sendPmtuProbe(now)) sent++;
    while (sent < MAX_PACKETS_PER_FLUSH) {
      const probe = this.probesToSend > 0;
      if (!probe) {
        if (!this.hasAckElicitingWork(now)) {
          if (this.acks.mustSendAck(now) && this.sendPacket(now, false)) sent++;
          break;
        }
        // RFC 9002 §7: no new ack-eliciting packet while the window is full,
        const windowFull = this.cc.bytesInFlight >= this.cc.congestionWindow;
        // RFC 9002 §7.7: nor faster than the pacing rate. ACKs are neither limited nor paced.
        const paced = !windowFull && !this.pacer.canSend(now);
        if (windowFull || paced) {
          if (paced) this.pacerWakeTime = this.pacer.nextSendTime(now);
          if (this.acks.mustSendAck(now) && this.sendPacket(now, false)) sent++;
          break;
        }
      }
      if (!this.sendPacket(now, true)) break;
      if (probe) this.probesToSend--;
      sent++;
    }
    if (sent >= MAX_PACKETS_PER_FLUSH) this.scheduleFlush();
    this.armTimer(now);
  }

  private hasAckElicitingWork(now: number): boolean {
    if (this.control.hasWork(now)) return true;
    const credit = this.peerMaxData - this.dataSent;
    for (const core of this.sendQueue) {
      if (core.isSendable(credit)) return true;
      this.sendQueue.delete(core);
    }
    return false;
  }

  /** Builds and sends one packet; with `ackEliciting` false, only an ACK. Returns false if there was nothing to put in it. */
  private sendPacket(now: number, ackEliciting: boolean): boolean {
    const packetNumber = this.loss.nextPacketNumber;
    // Probe-timeout packets go at the base size: they must pass even if the path shrank
    // under the discovered size (RFC 8899 §4.3), and their ACKs then reveal the black hole.
    const packetSize = this.probesToSend > 0 && this.pmtu !== undefined ? this.pmtu.base : this.maxPacketSize;
    const buf = Buffer.allocUnsafe(packetSize);
    const payloadStart = writePacketHeader(buf, packetNumber);
    const pb = this.builder;
    pb.start(buf, payloadStart, packetSize, this.peerMaxData - this.dataSent);
    // Piggyback an ACK on every packet when anything arrived since the last one (RFC 9000 §13.2).
    const ackRanges = this.writeAck(pb, now);
    if (ackEliciting) {
      this.control.write(pb, now);
      // A probe (RFC 9002 §6.2.4), or the packet that fills the congestion window, asks for
      // an immediate ACK so that the sender never waits max_ack_delay with a full window.
      if (this.probesToSend > 0 || this.cc.bytesInFlight + 2 * this.maxPacketSize > this.cc.congestionWindow) {
        pb.buf[pb.pos++] = FrameType.ImmediateAck;
        pb.record(SENT_PING);
        pb.immediateAck = true;
      }
      this.writeStreamFrames(pb);
    }
    if (pb.pos === payloadStart) {
      pb.release();
      return false;
    }
    finishPacket(buf, payloadStart, pb.pos);
    const size = pb.pos;
    this.loss.onPacketSent({
      packetNumber,
      timeSent: now,
      size,
      ackEliciting: pb.ackEliciting,
      inFlight: pb.ackEliciting,
      immediateAck: pb.immediateAck,
      frames: pb.frames,
      ackRanges,
      pmtuProbe: false,
    });
    if (pb.ackEliciting) {
      this.pacer.onPacketSent(now, size);
      this.deadPeer.onAckElicitingSent(now);
    } else this.counters.ackOnlyPacketsSent++;
    this.dataSent += pb.newStreamBytes;
    if (pb.retransmittedBytes > 0) {
      this.counters.packetsRetransmitted++;
      this.counters.streamBytesRetransmitted += pb.retransmittedBytes;
    }
    this.counters.packetsSent++;
    this.counters.bytesSent += size;
    pb.release();
    this.link.send(buf.subarray(0, size));
    return true;
  }

  /**
   * Sends a path MTU probe when one is due (RFC 8899 §4.1, RFC 9000 §14.4): PING and
   * IMMEDIATE_ACK padded to the size under test. It is not in flight, so neither the
   * congestion window nor a loss of it counts; it carries no data, so a loss repairs nothing.
   */
  private sendPmtuProbe(now: number): boolean {
    const size = this.pmtu!.probeSize(now);
    if (size === 0) return false;
    const buf = Buffer.alloc(size); // zeros: PADDING frames (RFC 9000 §19.1)
    const packetNumber = this.loss.nextPacketNumber;
    let pos = writePacketHeader(buf, packetNumber);
    const payloadStart = pos;
    buf[pos++] = FrameType.Ping;
    buf[pos++] = FrameType.ImmediateAck;
    finishPacket(buf, payloadStart, size);
    this.loss.onPacketSent({
      packetNumber,
      timeSent: now,
      size,
      ackEliciting: true,
      inFlight: false,
      immediateAck: true,
      frames: [],
      ackRanges: null,
      pmtuProbe: true,
    });
    this.pmtu!.onProbeSent(size);
    this.counters.pmtuProbesSent++;
    this.counters.packetsSent++;
    this.counters.bytesSent += size;
    this.link.send(buf);
    return true;
  }

  /** Packets are built at the size path MTU discovery settled on; window and pacer follow. */
  private applyPacketSize(reason: string): void {
    const size = this.pmtu!.current;
    if (size === this.maxPacketSize) return;
    this.log.debug({ from_bytes: this.maxPacketSize, to_bytes: size, reason }, 'datagram size changed');
    this.maxPacketSize = size;
    this.cc.setMaxDatagramSize(size);
    this.pacer.setMaxDatagramSize(size);
  }

  /** Writes an ACK frame if anything arrived since the last one; returns a copy of its ranges, or null. */
  private writeAck(pb: PacketBuilder, now: number): readonly number[] | null {
    if (!this.acks.hasNewInfo) return null;
    const count = this.acks.buildRanges();
    if (count === 0) return null;
    const ranges = this.acks.ranges;
    const delay = this.acks.ackDelayUs(now);
    if (ackFrameSize(ranges, count, delay) > pb.remaining) return null;
    pb.pos = writeAckFrame(pb.buf, pb.pos, ranges, count, delay);
    this.acks.onAckSent();
    return ranges.slice(0, 2 * count);
  }

  /** STREAM frames, round-robin across streams so several share a packet (RFC 9000 §2.2). */
  private writeStreamFrames(pb: PacketBuilder): void {
    const queue = this.sendQueue;
    while (pb.remaining >= MIN_STREAM_FRAME_BYTES && queue.size > 0) {
      const core = queue.values().next().value as StreamCore;
      const wrote = core.writeFrame(pb);
      queue.delete(core);
      if (core.isSendable(pb.connectionCredit)) queue.add(core);
      if (!wrote) break;
    }
  }

  // ================================================================ timers

  private runTimers(now: number): void {
    // Timers may fire up to one granularity early (RFC 9002 §6.1.2 kGranularity).
    const due = now + TIMER_GRANULARITY_MS;
    const idle = this.opts.idleTimeoutMs;
    // RFC 9000 §10.1: nothing received for the idle timeout closes the connection.
    if (idle > 0 && this.lastReceiveTime + idle <= now) {
      // Nothing received while PINGs or data awaited an ACK: the peer stopped answering (an
      // idle timeout shorter than keepalive + dead-peer bound gets there first).
      if (this.opts.deadPeerDetection && this.loss.ackElicitingInFlight > 0) this.closeOnDeadPeer(now, `idle timeout ${idle} ms`);
      else this.closeOnIdleTimeout();
      return;
    }
    if (this.deadPeerDeadline() <= now) this.confirmDeadPeer();
    if (this.loss.deadline() <= due && this.loss.onTimeout(due)) {
      this.counters.probeTimeouts++;
      this.probesToSend = PROBE_PACKETS_PER_TIMEOUT;
      this.queueProbeData(now);
    }
    const keepAlive = this.opts.keepAliveIntervalMs;
    if (keepAlive > 0 && Math.max(this.lastReceiveTime, this.lastKeepAliveTime) + keepAlive <= due) {
      this.lastKeepAliveTime = now;
      this.control.requestPing();
    }
  }

  /** RFC 9002 §6.2.4: probes carry new data if any, else the oldest unacknowledged data again. */
  private queueProbeData(now: number): void {
    if (this.hasAckElicitingWork(now)) return;
    this.loss.oldestAckEliciting(PROBE_PACKETS_PER_TIMEOUT, this.probeScratch);
    for (const packet of this.probeScratch) for (const frame of packet.frames) this.requeueFrame(frame);
    this.probeScratch.length = 0;
    // RFC 9002 §6.2.4: with nothing to send again (e.g. only a path MTU probe was outstanding), a PING.
    if (!this.hasAckElicitingWork(now)) this.control.requestPing();
  }

  private nextDeadline(now: number): number {
    let deadline = this.loss.deadline();
    if (this.acks.hasNewInfo && this.acks.ackDeadline < deadline) deadline = this.acks.ackDeadline;
    if (this.pacerWakeTime < deadline) deadline = this.pacerWakeTime;
    // Only a deadline still ahead: one that passed made MAX_STREAMS work, sent as the window allows.
    deadline = Math.min(deadline, this.control.maxStreamsTimer(now));
    if (this.opts.idleTimeoutMs > 0) deadline = Math.min(deadline, this.lastReceiveTime + this.opts.idleTimeoutMs);
    if (!this.deadPeerCheckPending) deadline = Math.min(deadline, this.deadPeerDeadline());
    const keepAlive = this.opts.keepAliveIntervalMs;
    if (keepAlive > 0) deadline = Math.min(deadline, Math.max(this.lastReceiveTime, this.lastKeepAliveTime) + keepAlive);
    return deadline;
  }

  /**
   * One Node timer for every deadline. A deadline that moved later (the delayed ACK rode on a
   * packet, the data in flight was acknowledged) moves the timer too: a timer that fires with
   * nothing due is a wakeup of an idle process, dearer than re-arming it.
   */
  private armTimer(now: number): void {
    if (this.closeError) return;
    const deadline = this.nextDeadline(now);
    if (deadline === Infinity) {
      this.clearTimer();
      return;
    }
    const delay = deadline - now;
    if (delay < TIMER_GRANULARITY_MS) {
      // Sub-millisecond waits (the pacer at high rates) use the next loop turn.
      this.scheduleFlush();
      return;
    }
    // Within a granularity of the deadline (RFC 9002 §6.1.2 kGranularity): keep the timer.
    if (this.timer !== null && this.timerDeadline <= deadline && deadline - this.timerDeadline < TIMER_GRANULARITY_MS) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerDeadline = deadline;
    this.timer = setTimeout(this.timerBound, Math.ceil(delay));
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.timerDeadline = Infinity;
  }

  /** When the peer is declared dead (RFC 9002 §6.2: probes went unanswered), or Infinity. */
  private deadPeerDeadline(): number {
    if (!this.opts.deadPeerDetection) return Infinity;
    return this.deadPeer.deadline(this.loss.ackElicitingInFlight > 0);
  }

  /**
   * The dead-peer deadline passed. Node runs timers before it polls for I/O, so after a stall
   * of this process the peer's ACKs may be waiting in the socket: the verdict is given one
   * loop turn later (setImmediate runs after the poll phase), once they were read.
   */
  private confirmDeadPeer(): void {
    if (this.deadPeerCheckPending) return;
    this.deadPeerCheckPending = true;
    setImmediate(() => {
      this.deadPeerCheckPending = false;
      if (this.closeError) return;
      const now = performance.now();
      if (this.deadPeerDeadline() <= now) this.closeOnDeadPeer(now, `bound ${Math.round(this.deadPeer.bound())} ms`);
      else this.armTimer(now);
    });
  }

  // ================================================================ closing

  /** RFC 9000 §10.1.2 / RFC 9002 §6.2: no acknowledgement within the dead-peer bound. */
  private closeOnDeadPeer(now: number, limit: string): void {
    const reason = `peer stopped answering: no acknowledgement for ${Math.round(this.deadPeer.waitedMs(now))} ms (${limit})`;
    const details = { closeCode: TransportErrorCode.PeerUnresponsive, application: false, remote: false, reason };
    this.teardown(new ConnectionCloseError(ErrorCode.Closed, details), {
      type: FrameType.ConnectionClose,
      errorCode: TransportErrorCode.PeerUnresponsive,
      reason,
    });
  }

  private closeOnIdleTimeout(): void {
    const reason = `no packet received for ${this.opts.idleTimeoutMs} ms`;
    const details = { closeCode: TransportErrorCode.IdleTimeout, application: false, remote: false, reason };
    this.teardown(new ConnectionCloseError(ErrorCode.Timeout, details), {
      type: FrameType.ConnectionClose,
      errorCode: TransportErrorCode.IdleTimeout,
      reason,
    });
  }

  private closeWithTransportError(code: TransportErrorCode, reason: string): void {
    this.log.warn({ close_code: code, reason }, 'closing connection: protocol violation by peer');
    const details = { closeCode: code, application: false, remote: false, reason };
    this.teardown(new ConnectionCloseError(ErrorCode.Protocol, details), { type: FrameType.ConnectionClose, errorCode: code, reason });
  }

  private onLinkClosed(err?: Error): void {
    if (this.closeError) return;
    // The link's own reason (a DTLS alert, an ICMP port unreachable) goes into the close reason.
    const reason = err ? `link closed: ${err.message}` : 'link closed';
    const details = { closeCode: TransportErrorCode.NoError, application: false, remote: true, reason };
    this.teardown(new ConnectionCloseError(ErrorCode.Closed, details, { cause: err }), null);
  }

  /** Sends CONNECTION_CLOSE (best effort, once), frees everything, closes the link, emits 'close'. */
  private teardown(error: ConnectionCloseError, frame: ConnectionCloseFrame | null): void {
    if (this.closeError) return;
    if (frame) this.sendClosePacket(frame);
    this.closeError = error;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.loss.clear();
    this.sendQueue.clear();
    this.control.clear();
    for (const core of this.registry.clear()) {
      core.markClosed();
      core.sink?.destroy(error);
    }
    this.log.debug(
      { close_code: error.closeCode, application: error.application, remote: error.remote, reason: error.reason },
      'connection closed',
    );
    this.link.close();
    process.nextTick(() => this.emit('close', error));
  }

  private sendClosePacket(frame: ConnectionCloseFrame): void {
    let reason = frame.reason;
    if (Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) {
      reason = Buffer.from(reason).subarray(0, MAX_CLOSE_REASON_BYTES).toString('utf8');
    }
    const buf = Buffer.allocUnsafe(this.maxPacketSize);
    const packetNumber = this.loss.nextPacketNumber++;
    const payloadStart = writePacketHeader(buf, packetNumber);
    const end = writeFrame(buf, payloadStart, { type: frame.type, errorCode: frame.errorCode, reason });
    finishPacket(buf, payloadStart, end);
    this.counters.packetsSent++;
    this.counters.bytesSent += end;
    this.link.send(buf.subarray(0, end));
  }
}
