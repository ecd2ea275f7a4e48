import { CONNECTION_TO_STREAM_WINDOW_RATIO, MAX_STREAMS_UPDATE_DELAY_MS } from './constants.js';
import { frameSize, writeFrame } from './frame-codec.js';
import { type Frame, FrameType, type ResetStreamFrame, type StopSendingFrame, type TransportParametersFrame } from './frames.js';
import type { PacketBuilder } from './packet-builder.js';
import type { ReceiveWindow } from './receive-window.js';
import type { RttEstimator } from './rtt-estimator.js';
import {
  SENT_MAX_DATA,
  SENT_MAX_STREAMS,
  SENT_PING,
  SENT_TRANSPORT_PARAMETERS,
  type SentFrame,
  SentFrameKind,
} from './sent-packet.js';
import type { StreamCore } from './stream-core.js';
import type { StreamRegistry } from './stream-registry.js';

type QueuedFrame = ResetStreamFrame | StopSendingFrame;

/** Largest MAX_STREAM_DATA / MAX_DATA frame, in bytes (type + two 8-byte varints). */
const MAX_WINDOW_FRAME_BYTES = 17;

/**
 * Every frame that is not STREAM or ACK, waiting for a packet: transport parameters,
 * window updates (MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS), RESET_STREAM, STOP_SENDING,
 * PING. Window updates are flags, not copies: a lost one sends the *current* value
 * again (RFC 9000 §13.3).
 */
export class ControlFrames {
  private readonly params: TransportParametersFrame;
  private readonly registry: StreamRegistry;
  private readonly recvWindow: ReceiveWindow;
  private readonly rtt: RttEstimator;
  private paramsPending = true;
  private paramsAcked = false;
  private maxDataPending = false;
  private maxStreamsPending = false;
  /**
   * When a pending MAX_STREAMS must go even without a packet to ride on (performance.now()
   * ms; Infinity: none pending). Before that, and while the peer has credit, it is not work
   * of its own (see MAX_STREAMS_UPDATE_THRESHOLD).
   */
  private streamsDeadline = Infinity;
  private pingPending = false;
  private queue: QueuedFrame[] = [];
  private readonly windowUpdates = new Set<StreamCore>();

  constructor(params: TransportParametersFrame, registry: StreamRegistry, recvWindow: ReceiveWindow, rtt: RttEstimator) {
    this.params = params;
    this.registry = registry;
    this.recvWindow = recvWindow;
    this.rtt = rtt;
  }

  get maxDataRequested(): boolean {
    return this.maxDataPending;
  }

  requestPing(): void {
    this.pingPending = true;
  }

  requestMaxData(): void {
    this.maxDataPending = true;
  }

  /**
   * When a pending MAX_STREAMS becomes work of its own, while that is still ahead of `now`; else
   * Infinity (none pending, or it is work already and waits only for the window: no timer).
   */
  maxStreamsTimer(now: number): number {
    return this.streamsDeadline > now ? this.streamsDeadline : Infinity;
  }

  /** Freed peer streams can be announced: now if the peer runs short of credit, else with the next packet (or by the deadline). */
  requestMaxStreams(now: number): void {
    this.maxStreamsPending = true;
    if (this.streamsDeadline === Infinity) this.streamsDeadline = now + MAX_STREAMS_UPDATE_DELAY_MS;
  }

  queueWindowUpdate(core: StreamCore): void {
    core.windowUpdateQueued = true;
    this.windowUpdates.add(core);
  }

  /** RFC 9000 §19.4 */
  queueResetStream(streamId: number, errorCode: number, finalSize: number): void {
    this.queue.push({ type: FrameType.ResetStream, streamId, errorCode, finalSize });
  }

  /** RFC 9000 §19.5 */
  queueStopSending(streamId: number, errorCode: number): void {
    this.queue.push({ type: FrameType.StopSending, streamId, errorCode });
  }

  forgetStream(core: StreamCore): void {
    this.windowUpdates.delete(core);
  }

  /** Something ack-eliciting is waiting that must go now (a packet of its own if need be). */
  hasWork(now: number): boolean {
    if (this.paramsPending || this.maxDataPending || this.pingPending) return true;
    if (this.maxStreamsPending && (this.streamsDeadline <= now || this.registry.peerStreamCreditLow)) return true;
    if (this.windowUpdates.size > 0) return true;
    for (const frame of this.queue) if (this.registry.mayReference(frame.streamId)) return true;
    return false;
  }

  /** Writes what fits into the packet, recording each frame for loss recovery. */
  write(pb: PacketBuilder, now: number): void {
    if (this.paramsPending && this.tryWrite(pb, this.params)) {
      this.paramsPending = false;
      pb.record(SENT_TRANSPORT_PARAMETERS);
    }
    // Written into any ack-eliciting packet, urgent or not: riding along costs a few bytes.
    if (this.maxStreamsPending && this.tryWrite(pb, { type: FrameType.MaxStreams, maximumStreams: this.registry.takeLocalMaxStreams() })) {
      this.maxStreamsPending = false;
      this.streamsDeadline = Infinity;
      pb.record(SENT_MAX_STREAMS);
    }
    if (this.queue.length > 0) this.writeQueued(pb);
    for (const core of this.windowUpdates) {
      if (!core.wantsWindowUpdates) {
        this.windowUpdates.delete(core);
        core.windowUpdateQueued = false;
        continue;
      }
      if (pb.remaining < MAX_WINDOW_FRAME_BYTES) break;
      const maximumStreamData = core.takeWindowUpdate(now);
      this.windowUpdates.delete(core);
      pb.pos = writeFrame(pb.buf, pb.pos, { type: FrameType.MaxStreamData, streamId: core.id, maximumStreamData });
      pb.record({ kind: SentFrameKind.MaxStreamData, owner: core });
      // quic-go: the connection window follows the largest stream window.
      this.recvWindow.ensureWindowAtLeast(core.window.windowSize * CONNECTION_TO_STREAM_WINDOW_RATIO);
    }
    if (this.maxDataPending && pb.remaining >= MAX_WINDOW_FRAME_BYTES) {
      const maximumData = this.recvWindow.nextLimit(now, this.rtt.smoothedRtt);
      pb.pos = writeFrame(pb.buf, pb.pos, { type: FrameType.MaxData, maximumData });
      this.maxDataPending = false;
      pb.record(SENT_MAX_DATA);
    }
    if (this.pingPending && pb.remaining >= 1) {
      pb.buf[pb.pos++] = FrameType.Ping;
      this.pingPending = false;
      pb.record(SENT_PING);
    }
  }

  onAcked(frame: SentFrame): void {
    if (frame.kind === SentFrameKind.TransportParameters) this.paramsAcked = true;
  }

  /** A packet carrying `frame` was lost: send its information again (RFC 9000 §13.3). */
  onLost(frame: SentFrame): void {
    switch (frame.kind) {
      case SentFrameKind.ResetStream:
        // RESET_STREAM is sent until acknowledged.
        this.queueResetStream(frame.streamId, frame.errorCode, frame.finalSize);
        break;
      case SentFrameKind.StopSending: {
        // STOP_SENDING is sent until the receiving part knows its final size.
        const core = this.registry.streams.get(frame.streamId);
        if (core && core.finalSize < 0) this.queueStopSending(frame.streamId, frame.errorCode);
        break;
      }
      case SentFrameKind.MaxData:
        this.maxDataPending = true;
        break;
      case SentFrameKind.MaxStreams:
        // RFC 9000 §13.3: the current value again, without further delay.
        this.maxStreamsPending = true;
        this.streamsDeadline = -Infinity;
        break;
      case SentFrameKind.MaxStreamData:
        frame.owner.onMaxStreamDataLost();
        break;
      case SentFrameKind.TransportParameters:
        if (!this.paramsAcked) this.paramsPending = true;
        break;
      case SentFrameKind.Stream:
      case SentFrameKind.Ping:
        break;
    }
  }

  clear(): void {
    this.maxStreamsPending = false;
    this.streamsDeadline = Infinity;
    this.queue = [];
    this.windowUpdates.clear();
  }

  private writeQueued(pb: PacketBuilder): void {
    const waiting: QueuedFrame[] = [];
    for (const frame of this.queue) {
      if (!this.registry.mayReference(frame.streamId) || !this.tryWrite(pb, frame)) {
        waiting.push(frame);
        continue;
      }
      if (frame.type === FrameType.ResetStream) {
        const { streamId, errorCode, finalSize } = frame;
        pb.record({ kind: SentFrameKind.ResetStream, streamId, errorCode, finalSize });
      } else {
        pb.record({ kind: SentFrameKind.StopSending, streamId: frame.streamId, errorCode: frame.errorCode });
      }
    }
    this.queue = waiting;
  }

  private tryWrite(pb: PacketBuilder, frame: Frame): boolean {
    if (frameSize(frame) > pb.remaining) return false;
    pb.pos = writeFrame(pb.buf, pb.pos, frame);
    return true;
  }
}
