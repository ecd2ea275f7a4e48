import { MERGED_SEGMENT_MAX_BYTES, SMALL_SEGMENT_BYTES, STREAM_SEND_BUFFER_MIN_BYTES } from './constants.js';
import { StreamResetCode, StreamResetError, TransportErrorCode } from './errors.js';
import { streamFrameHeaderSize, writeStreamFrameHeader } from './frame-codec.js';
import type { PacketBuilder } from './packet-builder.js';
import { ReceiveBuffer } from './receive-buffer.js';
import { ReceiveWindow } from './receive-window.js';
import { SendBuffer } from './send-buffer.js';
import { SentFrameKind, type StreamFrameOwner, type WindowUpdateOwner } from './sent-packet.js';

/** Sending-part states (RFC 9000 §3.1). ResetRecvd is not tracked: RESET_STREAM is retransmitted by the connection. */
export const SendState = { Ready: 0, Send: 1, DataSent: 2, DataRecvd: 3, ResetSent: 4 } as const;
export type SendState = (typeof SendState)[keyof typeof SendState];

/** Receiving-part states (RFC 9000 §3.2). */
export const RecvState = { Recv: 0, SizeKnown: 1, DataRecvd: 2, DataRead: 3, ResetRecvd: 4, ResetRead: 5 } as const;
export type RecvState = (typeof RecvState)[keyof typeof RecvState];

/** What the stream core needs from its connection. */
export interface StreamHost {
  readonly smoothedRttMs: number;
  now(): number;
  /** The stream has frames to send. */
  activateStream(core: StreamCore): void;
  /** A MAX_STREAM_DATA for this stream should go out. */
  queueWindowUpdate(core: StreamCore): void;
  /** RFC 9000 §19.4 */
  queueResetStream(streamId: number, errorCode: number, finalSize: number): void;
  /** RFC 9000 §19.5 */
  queueStopSending(streamId: number, errorCode: number): void;
  /** Connection-level receive accounting (RFC 9000 §4.1); false when MAX_DATA is exceeded. */
  onStreamBytesReceived(bytes: number): boolean;
  /** Connection-level credit: bytes consumed by the application or discarded. */
  onStreamBytesConsumed(bytes: number): void;
  /** Both parts reached a terminal state: free the stream. */
  onStreamFinished(core: StreamCore): void;
  /** Received segments held by this stream changed by `delta`; false when the connection-wide cap is exceeded. */
  onSegmentsChanged(delta: number): boolean;
}

/** The Duplex side of a stream, as the core drives it (implemented by TransportStream). */
export interface StreamSink {
  push(chunk: Buffer | null): boolean;
  destroy(err?: Error): unknown;
}

type Callback = (err?: Error | null) => void;

/**
 * One stream's protocol state (RFC 9000 §2-§4): send buffer with retransmission by range,
 * reassembly, flow control both ways, the two state machines, and the glue to the
 * Duplex (`TransportStream`) that the application sees.
 */
export class StreamCore implements StreamFrameOwner, WindowUpdateOwner {
  readonly id: number;
  readonly isLocal: boolean;
  private readonly host: StreamHost;
  sink: StreamSink | null = null;

  // ---- sending part
  sendState: SendState = SendState.Ready;
  readonly send = new SendBuffer();
  /** The peer's MAX_STREAM_DATA for this stream. */
  peerLimit: number;
  /** False while the peer's stream limit (or unknown parameters) forbids sending on it (RFC 9000 §4.6). */
  sendAllowed: boolean;
  private pendingWrite: Callback | null = null;
  private pendingFinal: Callback | null = null;

  // ---- receiving part
  recvState: RecvState = RecvState.Recv;
  readonly recv = new ReceiveBuffer();
  readonly window: ReceiveWindow;
  /** Final size once known (FIN or RESET_STREAM), else -1 (RFC 9000 §4.5). */
  finalSize = -1;
  /** STOP_SENDING was sent: incoming bytes are counted and dropped. */
  abandoned = false;
  /** A MAX_STREAM_DATA is queued in the connection. */
  windowUpdateQueued = false;
  private wantsData = false;
  private pumping = false;

  /** Freed from the connection. */
  finished = false;

  constructor(
    id: number,
    isLocal: boolean,
    host: StreamHost,
    window: ReceiveWindow,
    peerLimit: number,
    sendAllowed: boolean,
  ) {
    this.id = id;
    this.isLocal = isLocal;
    this.host = host;
    this.window = window;
    this.peerLimit = peerLimit;
    this.sendAllowed = sendAllowed;
  }

  // ================================================================ application side (from TransportStream)

  write(chunk: Buffer, callback: Callback): void {
    if (this.sendState === SendState.ResetSent) {
      callback(new StreamResetError(StreamResetCode.Cancelled, false, 'write after reset'));
      return;
    }
    this.send.append(chunk);
    this.host.activateStream(this);
    if (this.send.buffered < this.sendBufferLimit()) callback();
    else this.pendingWrite = callback;
  }

  final(callback: Callback): void {
    if (this.sendState === SendState.ResetSent) {
      callback(new StreamResetError(StreamResetCode.Cancelled, false, 'end after reset'));
      return;
    }
    this.send.end();
    this.pendingFinal = callback;
    this.host.activateStream(this);
  }

  read(): void {
    this.wantsData = true;
    this.pump();
  }

  /** The Duplex is being destroyed: reset what is still open (RFC 9000 §3.5). */
  onDestroyed(err: Error | null, localResetCode: number | undefined): void {
    this.pendingWrite = null;
    this.pendingFinal = null;
    this.wantsData = false;
    if (this.finished) return;
    // The application code: reset(code), or a numeric `resetCode` on the error (a
    // StreamResetError has one), else InternalError for an error and Cancelled without.
    let code: number = localResetCode ?? StreamResetCode.Cancelled;
    const errorCode = (err as { resetCode?: unknown } | null)?.resetCode;
    if (typeof errorCode === 'number' && Number.isSafeInteger(errorCode) && errorCode >= 0) code = errorCode;
    else if (err) code = StreamResetCode.InternalError;
    if (this.sendState !== SendState.DataRecvd && this.sendState !== SendState.ResetSent) {
      // RFC 9000 §19.4: the final size is the highest offset sent.
      this.host.queueResetStream(this.id, code, this.send.nextOffset);
      this.sendState = SendState.ResetSent;
      this.send.clear();
    }
    if (this.recvState === RecvState.ResetRecvd) {
      this.recvState = RecvState.ResetRead;
    } else if (this.recvState !== RecvState.DataRead && this.recvState !== RecvState.ResetRead && !this.abandoned) {
      // RFC 9000 §3.5: ask the peer to stop; its RESET_STREAM brings the final size.
      if (this.finalSize < 0) this.host.queueStopSending(this.id, code);
      this.abandon();
    }
    this.checkFinished();
  }

  // ================================================================ sending (to the connection)

  /** Writes one STREAM frame into the packet if there is something to send; returns true if it did. */
  writeFrame(pb: PacketBuilder): boolean {
    if (!this.sendAllowed || this.sendState === SendState.ResetSent) return false;
    const send = this.send;
    const space = pb.remaining;
    if (!send.lost.isEmpty) {
      // Lost ranges first, lowest offset first (RFC 9000 §13.3).
      const start = send.lost.startAt(0);
      const available = send.lost.endAt(0) - start;
      const length = Math.min(available, space - streamFrameHeaderSize(this.id, start, Math.min(available, space)));
      if (length <= 0) return false;
      const fin = send.finPending && start + length === send.finOffset;
      this.emitFrame(pb, start, length, fin);
      send.lost.remove(start, start + length);
      pb.retransmittedBytes += length;
      return true;
    }
    const newAvailable = Math.min(Math.min(send.writeOffset, this.peerLimit) - send.nextOffset, pb.connectionCredit);
    if (newAvailable > 0) {
      const start = send.nextOffset;
      const length = Math.min(newAvailable, space - streamFrameHeaderSize(this.id, start, Math.min(newAvailable, space)));
      if (length <= 0) return false;
      send.nextOffset += length;
      const fin = send.finPending && send.nextOffset === send.finOffset;
      this.emitFrame(pb, start, length, fin);
      pb.connectionCredit -= length;
      pb.newStreamBytes += length;
      return true;
    }
    if (send.finPending && send.nextOffset === send.finOffset) {
      // A FIN with no data (RFC 9000 §19.8: length 0 at the final size).
      if (space < streamFrameHeaderSize(this.id, send.finOffset, 0)) return false;
      this.emitFrame(pb, send.finOffset, 0, true);
      return true;
    }
    return false;
  }

  /** Something can go out now, given `connectionCredit` for new data. */
  isSendable(connectionCredit: number): boolean {
    if (!this.sendAllowed || this.sendState === SendState.ResetSent) return false;
    const send = this.send;
    if (!send.lost.isEmpty) return true;
    if (connectionCredit > 0 && Math.min(send.writeOffset, this.peerLimit) > send.nextOffset) return true;
    return send.finPending && send.nextOffset === send.finOffset;
  }

  private emitFrame(pb: PacketBuilder, offset: number, length: number, fin: boolean): void {
    const send = this.send;
    pb.pos = writeStreamFrameHeader(pb.buf, pb.pos, this.id, offset, length, fin);
    if (length > 0) send.copy(offset, length, pb.buf, pb.pos);
    pb.pos += length;
    pb.record({ kind: SentFrameKind.Stream, owner: this, offset, length, fin });
    if (this.sendState === SendState.Ready) this.sendState = SendState.Send;
    if (fin) {
      send.finPending = false;
      if (this.sendState === SendState.Send) this.sendState = SendState.DataSent;
    }
  }

  onStreamFrameAcked(offset: number, length: number, fin: boolean): void {
    if (this.sendState === SendState.ResetSent || this.sendState === SendState.DataRecvd) return;
    this.send.onAcked(offset, length, fin);
    if (this.send.allAcked) {
      this.sendState = SendState.DataRecvd;
      const final = this.pendingFinal;
      this.pendingFinal = null;
      final?.();
      this.checkFinished();
      return;
    }
    this.releaseWrite();
  }

  onStreamFrameLost(offset: number, length: number, fin: boolean): void {
    if (this.sendState === SendState.ResetSent || this.sendState === SendState.DataRecvd) return;
    this.send.onLost(offset, length, fin);
    this.host.activateStream(this);
  }

  /** MAX_STREAM_DATA from the peer (RFC 9000 §19.10): limits only grow. */
  onMaxStreamData(maximum: number): void {
    if (maximum <= this.peerLimit) return;
    this.peerLimit = maximum;
    if (this.sendState === SendState.ResetSent) return;
    this.host.activateStream(this);
    this.releaseWrite();
  }

  /** STOP_SENDING from the peer (RFC 9000 §3.5): reset our side; the stream errors for the application. */
  onStopSending(errorCode: number): void {
    if (this.sendState === SendState.DataRecvd || this.sendState === SendState.ResetSent) return;
    this.sink?.destroy(new StreamResetError(errorCode, true));
  }

  /** Writes are accepted while unacknowledged bytes stay under max(minimum, granted credit). */
  private sendBufferLimit(): number {
    return Math.max(STREAM_SEND_BUFFER_MIN_BYTES, this.peerLimit - this.send.ackedPrefix);
  }

  private releaseWrite(): void {
    if (this.pendingWrite !== null && this.send.buffered < this.sendBufferLimit()) {
      const callback = this.pendingWrite;
      this.pendingWrite = null;
      callback();
    }
  }

  // ================================================================ receiving (from the connection)

  /** A STREAM frame (RFC 9000 §19.8). Returns a TransportErrorCode, NoError when fine. */
  onStreamFrame(offset: number, data: Buffer, fin: boolean): TransportErrorCode {
    const state = this.recvState;
    if (state === RecvState.DataRead || state === RecvState.ResetRecvd || state === RecvState.ResetRead) {
      return TransportErrorCode.NoError;
    }
    const end = offset + data.length;
    // RFC 9000 §4.5: data beyond a known final size, or a changed final size, is FINAL_SIZE_ERROR.
    if (this.finalSize >= 0 && (end > this.finalSize || (fin && end !== this.finalSize))) {
      return TransportErrorCode.FinalSizeError;
    }
    if (fin && this.finalSize < 0) {
      if (end < this.window.highestReceived) return TransportErrorCode.FinalSizeError;
      this.finalSize = end;
      this.recvState = RecvState.SizeKnown;
    }
    const error = this.accountReceived(end);
    if (error !== TransportErrorCode.NoError) return error;
    if (this.abandoned) {
      this.checkFinished();
      return TransportErrorCode.NoError;
    }
    const segmentsBefore = this.recv.segmentCount;
    this.recv.insert(offset, data);
    if (!this.host.onSegmentsChanged(this.recv.segmentCount - segmentsBefore)) return TransportErrorCode.ProtocolViolation;
    if (this.finalSize >= 0 && this.recv.readOffset + this.recv.buffered === this.finalSize) {
      this.recvState = RecvState.DataRecvd;
    }
    if (this.wantsData || this.finalSize === this.recv.readOffset) this.pump();
    return TransportErrorCode.NoError;
  }

  /** RESET_STREAM from the peer (RFC 9000 §19.4). Returns a TransportErrorCode. */
  onResetStream(errorCode: number, finalSize: number): TransportErrorCode {
    const state = this.recvState;
    if (state === RecvState.DataRead || state === RecvState.ResetRecvd || state === RecvState.ResetRead) {
      return this.finalSize >= 0 && finalSize !== this.finalSize ? TransportErrorCode.FinalSizeError : TransportErrorCode.NoError;
    }
    // RFC 9000 §4.5: the final size cannot change, nor be below what was received.
    if ((this.finalSize >= 0 && finalSize !== this.finalSize) || finalSize < this.window.highestReceived) {
      return TransportErrorCode.FinalSizeError;
    }
    const error = this.accountReceived(finalSize);
    if (error !== TransportErrorCode.NoError) return error;
    this.finalSize = finalSize;
    if (this.abandoned) {
      this.checkFinished();
      return TransportErrorCode.NoError;
    }
    // RFC 9000 §4.5: bytes up to the final size count as consumed at the connection level.
    this.creditUnconsumed(finalSize);
    this.clearReceived();
    this.recvState = RecvState.ResetRecvd;
    this.wantsData = false;
    this.sink?.destroy(new StreamResetError(errorCode, true));
    return TransportErrorCode.NoError;
  }

  /** A MAX_STREAM_DATA for this stream went out: the limit to advertise. */
  takeWindowUpdate(now: number): number {
    this.windowUpdateQueued = false;
    return this.window.nextLimit(now, this.host.smoothedRttMs);
  }

  /** A window update is worth sending only while more data can come. */
  get wantsWindowUpdates(): boolean {
    return !this.finished && !this.abandoned && this.finalSize < 0 && this.recvState === RecvState.Recv;
  }

  onMaxStreamDataLost(): void {
    if (this.wantsWindowUpdates && !this.windowUpdateQueued) this.host.queueWindowUpdate(this);
  }

  /** Connection closed: no callbacks, no frames; the connection destroys the Duplex. */
  markClosed(): void {
    this.finished = true;
    this.pendingWrite = null;
    this.pendingFinal = null;
    this.send.clear();
    this.recv.clear();
  }

  private clearReceived(): void {
    const segments = this.recv.segmentCount;
    this.recv.clear();
    if (segments > 0) this.host.onSegmentsChanged(-segments);
  }

  private accountReceived(end: number): TransportErrorCode {
    const before = this.window.highestReceived;
    // RFC 9000 §4.1: receiving beyond the advertised limit is FLOW_CONTROL_ERROR.
    if (!this.window.onReceivedUpTo(end)) return TransportErrorCode.FlowControlError;
    const delta = this.window.highestReceived - before;
    if (delta > 0) {
      if (!this.host.onStreamBytesReceived(delta)) return TransportErrorCode.FlowControlError;
      if (this.abandoned) this.creditUnconsumed(this.window.highestReceived);
    }
    return TransportErrorCode.NoError;
  }

  /** Counts everything up to `upTo` as consumed (discarded data still returns credit). */
  private creditUnconsumed(upTo: number): void {
    const bytes = upTo - this.window.consumed;
    if (bytes <= 0) return;
    this.window.onConsumed(bytes, this.host.now());
    this.host.onStreamBytesConsumed(bytes);
  }

  private abandon(): void {
    this.abandoned = true;
    this.wantsData = false;
    this.clearReceived();
    this.creditUnconsumed(this.window.highestReceived);
  }

  /** Hands in-order data to the Readable while it wants more; credit follows consumption. */
  private pump(): void {
    if (this.pumping || this.sink === null) return;
    this.pumping = true;
    while (this.wantsData && !this.abandoned && this.recvState !== RecvState.ResetRecvd) {
      const segmentsBefore = this.recv.segmentCount;
      const chunk = this.recv.shiftMerged(SMALL_SEGMENT_BYTES, MERGED_SEGMENT_MAX_BYTES);
      if (chunk === null) break;
      this.host.onSegmentsChanged(this.recv.segmentCount - segmentsBefore);
      // Handed to the Readable counts as consumed: credit goes back (RFC 9000 §4.2). This is
      // booked before push(), whose 'data' listeners may destroy the stream synchronously.
      this.window.onConsumed(chunk.length, this.host.now());
      this.host.onStreamBytesConsumed(chunk.length);
      if (!this.sink.push(chunk)) this.wantsData = false;
    }
    if (
      this.finalSize >= 0 &&
      this.recv.readOffset === this.finalSize &&
      (this.recvState === RecvState.SizeKnown || this.recvState === RecvState.DataRecvd)
    ) {
      this.recvState = RecvState.DataRead;
      this.sink.push(null);
    }
    this.pumping = false;
    if (this.wantsWindowUpdates && !this.windowUpdateQueued && this.window.updateDue) this.host.queueWindowUpdate(this);
    this.checkFinished();
  }

  private checkFinished(): void {
    if (this.finished) return;
    const sendDone = this.sendState === SendState.DataRecvd || this.sendState === SendState.ResetSent;
    const recvDone =
      this.recvState === RecvState.DataRead ||
      this.recvState === RecvState.ResetRead ||
      (this.abandoned && this.finalSize >= 0);
    if (sendDone && recvDone) {
      this.finished = true;
      this.host.onStreamFinished(this);
    }
  }
}
