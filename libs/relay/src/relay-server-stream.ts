import { ErrorCode, HopError } from '@hopgate/errors';
import { FrameType, frameTypeName, type Frame } from './frames.js';
import { MAX_HEAD_BYTES } from './defaults.js';
import { RelayStream, StreamPhase, type RelayStreamInit } from './relay-stream.js';

export interface RelayServerStreamInit extends RelayStreamInit {
  head: Uint8Array;
  /** The ingress's window for the response body (from OPEN). */
  peerWindowBytes: number;
  /** OPEN carried FIN: the request body is empty (its readable side ends at once). */
  fin: boolean;
}

/**
 * The hub end of a relay stream: the readable side is the request body, the writable side the
 * response body. Call accept() (or reject()), then respond(head) before the body; writes wait
 * until respond(). fail() resets an accepted stream with an error code for the ingress.
 *
 * Read the request body to its end (or resume() it): credit goes back to the ingress only as it
 * is read, and the stream frees its state once the body has ended and the response is end()ed.
 * Errors: ERR_STREAM_RESET (cancelled by the ingress), ERR_TIMEOUT (the ingress gave up waiting
 * for ACCEPT, or idle), ERR_PROTOCOL, ERR_CLOSED (also: the ingress went away mid-stream, found by
 * the liveness probes; see PeerLiveness). An error can come after the response was
 * complete (the ingress cancels a request body the hub did not read): it only means the state is
 * gone.
 */
export class RelayServerStream extends RelayStream {
  readonly head: Uint8Array;
  private responded = false;

  /** @internal Streams are made by RelayServer on OPEN. */
  constructor(init: RelayServerStreamInit) {
    super(init);
    this.head = init.head;
    this.startSending(init.peerWindowBytes);
    if (init.fin) this.endedByOpen();
  }

  /** Takes the stream: sends ACCEPT, granting the ingress this side's window for the request body. */
  accept(): void {
    if (this.phase !== StreamPhase.Opening) return;
    this.phase = StreamPhase.Open;
    // On the ingress subject, in order with what follows (RESPONSE, DATA): one message for all of them.
    if (!this.send({ type: FrameType.Accept, creditBytes: this.windowBytes })) this.connectionLost();
  }

  /** Refuses the stream: the ingress stream errors with HopError(code, message). No-op once closed. */
  reject(code: ErrorCode, message: string): void {
    if (this.phase === StreamPhase.Closed) return;
    if (this.phase === StreamPhase.Open) return this.fail(code, message);
    this.send({ type: FrameType.Reject, code, message });
    this.peerClosed = true;
    this.destroy();
  }

  /** Sends the response head (accepting first if needed); the body written to this stream follows it. */
  respond(head: Uint8Array): void {
    if (this.phase === StreamPhase.Closed) return;
    if (this.responded) throw new HopError(ErrorCode.Internal, 'respond() called twice');
    if (head.byteLength > MAX_HEAD_BYTES) {
      throw new HopError(ErrorCode.BadFrame, `response head of ${head.byteLength} bytes exceeds ${MAX_HEAD_BYTES}`);
    }
    this.accept();
    if (this.phase !== StreamPhase.Open) return;
    this.responded = true;
    if (!this.send({ type: FrameType.Response, head })) return this.connectionLost();
    this.pump();
  }

  /** Ends the stream with an error for the ingress (RESET, or REJECT before accept). No-op once closed. */
  fail(code: ErrorCode, message: string): void {
    if (this.phase === StreamPhase.Closed) return;
    if (this.phase === StreamPhase.Opening) return this.reject(code, message);
    this.send({ type: FrameType.Reset, code, message });
    this.peerClosed = true;
    this.destroy();
  }

  protected override canSendData(): boolean {
    return this.responded;
  }

  protected override canReceiveData(): boolean {
    return this.phase === StreamPhase.Open;
  }

  protected override onControlFrame(frame: Frame): void {
    this.violation(`unexpected ${frameTypeName(frame.type)} at the hub`);
  }

  protected override abort(code: ErrorCode, message: string, phaseBefore: StreamPhase): void {
    // The ingress is still waiting for the answer to its OPEN: REJECT rather than RESET.
    if (phaseBefore === StreamPhase.Opening) this.send({ type: FrameType.Reject, code, message });
    else super.abort(code, message, phaseBefore);
  }
}
