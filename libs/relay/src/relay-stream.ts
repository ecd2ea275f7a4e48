import { Duplex } from 'node:stream';
import { ErrorCode, HopError } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import { FrameType, frameTypeName, type Frame, type FrameBody } from './frames.js';
import { ReceiveWindow, SendCredit } from './flow-control.js';

/**
 * Lifecycle of one stream, the same on both sides:
 *
 *   Opening --ACCEPT (hub sends / ingress receives)--> Open --END both ways, RESET, error, idle--> Closed
 *   Opening --REJECT, RESET, open timeout, no responders, idle---------------------------------> Closed
 *
 * Within Open each direction half-closes on its own (END sent / END received); the Duplex
 * destroys itself once both halves are done (autoDestroy), which frees the state.
 */
export const StreamPhase = {
  Opening: 'opening',
  Open: 'open',
  Closed: 'closed',
} as const;
export type StreamPhase = (typeof StreamPhase)[keyof typeof StreamPhase];

export type RelaySide = 'ingress' | 'hub';

/** What a stream needs from the node that owns it (RelayClient / RelayServer). */
export interface StreamLink {
  /** Encodes a frame of stream `streamId` (whose UTF-8 bytes are `id`) into this turn's message to `subject`; false when it could not be sent (connection closed). */
  publish(subject: string, id: Uint8Array, seq: number, body: FrameBody, streamId: string): boolean;
  /**
   * Appends as much of `payload` as fits (the frame within `maxPayloadBytes`, the message within
   * its limit) to the stream's DATA frame `seq` if that frame is still the last one of this
   * turn's message to `subject`; returns the bytes taken (0 when it cannot).
   */
  extendData(subject: string, seq: number, payload: Uint8Array, streamId: string, maxPayloadBytes: number): number;
  /** Called once when the stream is closed: the owner forgets it. */
  release(stream: RelayStream): void;
  /** Takes back the stream's OPEN if it has not left this node yet; true when it was taken back. */
  withdrawOpen(stream: RelayStream): boolean;
  /** Sets FIN on the stream's OPEN if it has not left this node yet (the request body is empty); true when it did. */
  finishOpen(stream: RelayStream): boolean;
  /** A writer found the peer's window used up and waits for CREDIT (once per wait; counted for metrics). */
  creditStalled(): void;
}

export interface RelayStreamInit {
  requestId: string;
  side: RelaySide;
  link: StreamLink;
  /** Subject of the peer node: subjects.hub(hubId) or the ingress subject named in OPEN. */
  peerSubject: string;
  /** This side's receive window. */
  windowBytes: number;
  chunkBytes: number;
  idleTimeoutMs: number;
  logger: Logger;
  /** First sequence number this side sends (the ingress used 0 for OPEN). */
  sendSeq: number;
  /** First sequence number this side expects (the hub has seen OPEN, seq 0). */
  receiveSeq: number;
}

/** Flow-control figures of one stream (both directions), for tests and metrics. */
export interface FlowStats {
  /** DATA payload bytes sent. */
  sentBytes: number;
  /** Credit left to send with, right now. */
  sendCreditBytes: number;
  /** Sent and not yet returned by the peer's CREDIT: never above the peer's window. */
  sendOutstandingBytes: number;
  /** DATA payload bytes received. */
  receivedBytes: number;
  /** Received and taken by the application. */
  consumedBytes: number;
  /** Received and not yet read by the application (the Readable buffer). */
  bufferedBytes: number;
  /** Received and not yet returned by CREDIT: never above this side's window. */
  receiveOutstandingBytes: number;
}

type Callback = (error?: Error | null) => void;

interface PendingWrite {
  chunks: Uint8Array[];
  index: number;
  offset: number;
  callback: Callback;
}

/**
 * One relay stream: a Duplex whose writable side sends DATA frames within the peer's credit and
 * whose readable side returns credit as the application reads. Subclasses add the open handshake
 * (RelayClientStream, RelayServerStream).
 */
export abstract class RelayStream extends Duplex {
  readonly requestId: string;
  /** @internal The request id's UTF-8 bytes, encoded once for every frame of the stream. */
  readonly idBytes: Buffer;
  protected phase: StreamPhase = StreamPhase.Opening;
  protected readonly log: Logger;
  protected readonly side: RelaySide;
  /** The peer already forgot the stream (it sent RESET / REJECT, or never had it): send nothing back. */
  protected peerClosed = false;
  protected readonly windowBytes: number;

  private readonly link: StreamLink;
  private readonly peerSubject: string;
  private readonly chunkBytes: number;
  private readonly idleTimeoutMs: number;
  private readonly receiveWindow: ReceiveWindow;
  private sendCredit: SendCredit | undefined;
  private nextSendSeq: number;
  private nextReceiveSeq: number;
  private pendingWrite: PendingWrite | undefined;
  private pendingFinal: Callback | undefined;
  private pumping = false;
  private endSent = false;
  private endReceived = false;
  /** END came with OPEN (FIN) and is pushed at the first _read(). */
  private endPending = false;
  private withdrawn = false;
  /** A write waits for CREDIT: counted once per wait (StreamLink.creditStalled). */
  private waitingForCredit = false;
  private readonly idleTimer: NodeJS.Timeout;

  protected constructor(init: RelayStreamInit) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: init.windowBytes,
      writableHighWaterMark: init.chunkBytes,
    });
    this.requestId = init.requestId;
    this.idBytes = Buffer.from(init.requestId, 'utf8');
    this.side = init.side;
    this.link = init.link;
    this.peerSubject = init.peerSubject;
    this.windowBytes = init.windowBytes;
    this.chunkBytes = init.chunkBytes;
    this.idleTimeoutMs = init.idleTimeoutMs;
    this.log = init.logger;
    this.nextSendSeq = init.sendSeq;
    this.nextReceiveSeq = init.receiveSeq;
    this.receiveWindow = new ReceiveWindow(init.windowBytes);
    this.idleTimer = setTimeout(() => this.onIdle(), init.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /** May DATA / END go out now (ingress: accepted; hub: responded)? */
  protected abstract canSendData(): boolean;
  /** May DATA / END come in now (ingress: RESPONSE seen; hub: accepted)? */
  protected abstract canReceiveData(): boolean;
  /** Frames other than DATA, END, CREDIT and RESET (ACCEPT, REJECT, RESPONSE). */
  protected abstract onControlFrame(frame: Frame): void;

  /**
   * True when the stream was destroyed before its OPEN left this node (same event-loop turn):
   * the peer never heard of it. Always false on the hub side.
   */
  get openWithdrawn(): boolean {
    return this.withdrawn;
  }

  flowStats(): FlowStats {
    return {
      sentBytes: this.sendCredit?.sentBytes ?? 0,
      sendCreditBytes: this.sendCredit?.available ?? 0,
      sendOutstandingBytes: this.sendCredit?.outstandingBytes ?? 0,
      receivedBytes: this.receiveWindow.receivedBytes,
      consumedBytes: this.receiveWindow.receivedBytes - this.readableLength,
      bufferedBytes: this.readableLength,
      receiveOutstandingBytes: this.receiveWindow.outstandingBytes,
    };
  }

  /** @internal A decoded frame for this stream, in arrival order. */
  receive(frame: Frame): void {
    if (this.phase === StreamPhase.Closed) return;
    if (frame.type === FrameType.Reset) {
      // A RESET ends the stream whatever came before it, so its number is not checked.
      this.peerClosed = true;
      this.destroy(new HopError(frame.code, frame.message));
      return;
    }
    if (frame.seq !== this.nextReceiveSeq) {
      // NATS core is at-most-once and keeps order per publisher: a gap is a lost frame.
      const what = frame.seq > this.nextReceiveSeq ? 'lost' : 'duplicated';
      this.violation(`${what} frame: expected seq ${this.nextReceiveSeq}, got ${frameTypeName(frame.type)} seq ${frame.seq}`);
      return;
    }
    this.nextReceiveSeq += 1;
    this.idleTimer.refresh();
    switch (frame.type) {
      case FrameType.Data:
        this.onData(frame.payload);
        return;
      case FrameType.End:
        this.onEnd();
        return;
      case FrameType.Credit:
        this.onCredit(frame.creditBytes);
        return;
      default:
        this.onControlFrame(frame);
    }
  }

  /** @internal The owner closes the stream because the open request failed. */
  failOpen(error: HopError, peerHasState: boolean): void {
    if (this.phase !== StreamPhase.Opening) return;
    this.peerClosed = !peerHasState;
    this.destroy(error);
  }

  /** Numbers a frame body and publishes it (to the peer's subject unless told otherwise). */
  protected send(body: FrameBody, subject: string = this.peerSubject): boolean {
    const seq = this.nextSendSeq;
    this.nextSendSeq += 1;
    if (this.phase !== StreamPhase.Closed) this.idleTimer.refresh();
    return this.link.publish(subject, this.idBytes, seq, body, this.requestId);
  }

  /**
   * DATA: as much as fits joins the stream's previous DATA frame while that is still the last
   * frame of this turn's message (up to chunkBytes and the message limit), the rest is a frame of
   * its own. Writes of any size (a datagram's payload on the hub, a TLS record's on the ingress)
   * so become chunk-sized frames in full messages, with no buffer in between.
   */
  private sendData(payload: Uint8Array): boolean {
    const joined = this.link.extendData(this.peerSubject, this.nextSendSeq - 1, payload, this.requestId, this.chunkBytes);
    if (joined === payload.byteLength) {
      this.idleTimer.refresh();
      return true;
    }
    return this.send({ type: FrameType.Data, payload: joined === 0 ? payload : payload.subarray(joined) });
  }

  /**
   * The peer's OPEN carried FIN: its body is empty, as if END had come (the hub side). The end
   * is pushed at the first read (_read): pushing it from the constructor cost a third of the
   * hub's stream set-up.
   */
  protected endedByOpen(): void {
    this.endReceived = true;
    this.endPending = true;
  }

  /** The peer's window is known: DATA may flow once canSendData() says so. */
  protected startSending(peerWindowBytes: number): void {
    this.sendCredit = new SendCredit(peerWindowBytes);
  }

  protected violation(message: string): void {
    this.log.warn({ request_id: this.requestId, reason: message }, 'relay stream reset: protocol violation');
    this.destroy(new HopError(ErrorCode.Protocol, message));
  }

  protected connectionLost(): void {
    this.peerClosed = true;
    this.destroy(new HopError(ErrorCode.Closed, 'NATS connection closed'));
  }

  /** Tells the peer the stream is gone. The hub answers a not yet accepted OPEN with REJECT instead. */
  protected abort(code: ErrorCode, message: string, _phaseBefore: StreamPhase): void {
    this.send({ type: FrameType.Reset, code, message });
  }

  /** Sends what the credit allows of the pending write, then END once the writable side finished. */
  protected pump(): void {
    if (this.pumping) return; // a write callback started the next _write: the loop below takes it
    this.pumping = true;
    try {
      while (this.phase === StreamPhase.Open && this.sendCredit !== undefined && this.canSendData()) {
        const write = this.pendingWrite;
        if (write === undefined) {
          if (this.pendingFinal !== undefined && !this.endSent) {
            const callback = this.pendingFinal;
            this.pendingFinal = undefined;
            this.endSent = true;
            if (!this.send({ type: FrameType.End })) return this.connectionLost();
            callback();
          }
          return;
        }
        const payload = this.takePayload(write, this.sendCredit);
        if (payload === undefined) {
          // Window used up: wait for CREDIT.
          if (!this.waitingForCredit) {
            this.waitingForCredit = true;
            this.link.creditStalled();
          }
          return;
        }
        if (payload.byteLength > 0 && !this.sendData(payload)) return this.connectionLost();
        if (write.index === write.chunks.length) {
          this.pendingWrite = undefined;
          write.callback(); // may call _write / _final again, synchronously
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Cuts the next DATA payload (<= chunkBytes, <= credit) out of a write; undefined without credit. */
  private takePayload(write: PendingWrite, credit: SendCredit): Uint8Array | undefined {
    let wanted = 0;
    for (let i = write.index; i < write.chunks.length && wanted < this.chunkBytes; i += 1) {
      wanted += (write.chunks[i]?.byteLength ?? 0) - (i === write.index ? write.offset : 0);
    }
    if (wanted === 0) {
      write.index = write.chunks.length;
      return new Uint8Array(0);
    }
    const bytes = credit.take(Math.min(wanted, this.chunkBytes));
    if (bytes === 0) return undefined;
    const parts: Uint8Array[] = [];
    let left = bytes;
    while (left > 0) {
      const chunk = write.chunks[write.index];
      if (chunk === undefined) break;
      const piece = chunk.subarray(write.offset, write.offset + left);
      parts.push(piece);
      left -= piece.byteLength;
      write.offset += piece.byteLength;
      if (write.offset === chunk.byteLength) {
        write.index += 1;
        write.offset = 0;
      }
    }
    // Skip empty chunks so that a write is complete as soon as its last byte is out.
    while (write.index < write.chunks.length && write.chunks[write.index]?.byteLength === 0) write.index += 1;
    return parts.length === 1 && parts[0] !== undefined ? parts[0] : Buffer.concat(parts);
  }

  private onData(payload: Uint8Array): void {
    if (!this.canReceiveData()) return this.violation(`DATA before the stream was ${this.side === 'hub' ? 'accepted' : 'answered'}`);
    if (this.endReceived) return this.violation('DATA after END');
    if (!this.receiveWindow.onData(payload.byteLength)) {
      return this.violation(`flow control: peer sent beyond the ${this.windowBytes} byte window`);
    }
    this.push(payload);
  }

  private onEnd(): void {
    if (!this.canReceiveData()) return this.violation(`END before the stream was ${this.side === 'hub' ? 'accepted' : 'answered'}`);
    if (this.endReceived) return this.violation('END twice');
    this.endReceived = true;
    this.push(null);
  }

  private onCredit(bytes: number): void {
    if (this.sendCredit === undefined) return this.violation('CREDIT before the stream was open');
    if (!this.sendCredit.grant(bytes)) return this.violation(`CREDIT of ${bytes} bytes returns more than was sent`);
    this.waitingForCredit = false;
    this.pump();
  }

  private onIdle(): void {
    if (this.phase === StreamPhase.Closed) return;
    this.log.info({ request_id: this.requestId, idle_ms: this.idleTimeoutMs }, 'relay stream idle: reset');
    this.destroy(new HopError(ErrorCode.Timeout, `no frame in either direction for ${this.idleTimeoutMs} ms`));
  }

  /**
   * Every way the application takes data (read(), 'data' in flowing mode, pipe, async iteration)
   * goes through read(); afterwards readableLength tells what was consumed, and credit goes back.
   * (_read() is not enough: Node calls it before taking the chunk, and not again until a push.)
   */
  override read(size?: number): ReturnType<Duplex['read']> {
    const chunk: unknown = super.read(size);
    if (this.phase === StreamPhase.Open && !this.endReceived && this.canReceiveData()) {
      const creditBytes = this.receiveWindow.onConsumed(this.readableLength);
      if (creditBytes > 0 && !this.send({ type: FrameType.Credit, creditBytes })) this.connectionLost();
    }
    return chunk;
  }

  override _read(): void {
    // Data is pushed as DATA frames arrive; credit is returned in read().
    if (this.endPending) {
      this.endPending = false;
      this.push(null);
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.startWrite([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: Callback): void {
    this.startWrite(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: Callback): void {
    // A body that ends before its OPEN left (a GET): FIN on the OPEN instead of an END after ACCEPT.
    if (this.phase === StreamPhase.Opening && this.pendingWrite === undefined && !this.endSent && this.link.finishOpen(this)) {
      this.endSent = true;
      callback();
      return;
    }
    this.pendingFinal = callback;
    this.pump();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    const phaseBefore = this.phase;
    this.phase = StreamPhase.Closed;
    // An OPEN that never left: the peer has no state to free, so no RESET follows it.
    if (phaseBefore === StreamPhase.Opening && !this.peerClosed && this.link.withdrawOpen(this)) {
      this.withdrawn = true;
      this.peerClosed = true;
    }
    if (phaseBefore !== StreamPhase.Closed && !this.peerClosed && !(this.endSent && this.endReceived)) {
      const code = error instanceof HopError ? error.code : ErrorCode.StreamReset;
      const message = error?.message ?? `stream cancelled by the ${this.side}`;
      this.abort(code, message, phaseBefore);
    }
    clearTimeout(this.idleTimer);
    this.pendingWrite = undefined;
    this.pendingFinal = undefined;
    this.link.release(this);
    this.log.debug({ request_id: this.requestId, error: error?.message }, 'relay stream closed');
    callback(error);
  }

  private startWrite(chunks: Uint8Array[], callback: Callback): void {
    if (this.phase === StreamPhase.Closed) {
      callback(new HopError(ErrorCode.Closed, 'relay stream is closed'));
      return;
    }
    this.pendingWrite = { chunks, index: 0, offset: 0, callback };
    this.pump();
  }
}
