import { HopError } from '@hopgate/errors';
import { FrameType, frameTypeName, type Frame } from './frames.js';
import { MAX_EARLY_FRAMES } from './defaults.js';
import { RelayStream, StreamPhase, type RelayStreamInit } from './relay-stream.js';

export interface RelayClientStreamInit extends RelayStreamInit {
  hubId: string;
  /** Called once when the stream leaves Opening (ACCEPT, REJECT, or destroyed before either). */
  onOpenSettled: (stream: RelayClientStream) => void;
}

/**
 * The ingress end of a relay stream: the writable side is the request body, the readable side the
 * response body. Emits 'accepted' once when the hub's ACCEPT arrives (never for a stream the hub
 * rejected), and 'response' (head: Uint8Array) exactly once, after it and before any readable data.
 * Errors are HopErrors: ERR_CLIENT_OFFLINE (no hub subscribed, or the hub went away mid-stream:
 * liveness probes, see PeerLiveness), ERR_TIMEOUT (no ACCEPT in time, or
 * idle), ERR_STREAM_RESET (cancelled by the hub), ERR_PROTOCOL (lost frame, flow-control
 * violation), ERR_CLOSED (NATS connection lost, relay closed), or the code the hub sent in
 * REJECT / RESET.
 *
 * Usage: always end() the request body (a GET: end() at once); writes wait for ACCEPT and for
 * credit (write() returning false is the backpressure). Read the response with 'data', pipe() or
 * `stream.iterator({ destroyOnReturn: false })`: a plain `for await` destroys the Duplex when the
 * readable side ends, which resets a request body still being sent. The stream frees its state when
 * both sides have ended, or on destroy(), which sends RESET: call destroy() when the response is
 * complete but the request body is not (the hub did not want it).
 */
export class RelayClientStream extends RelayStream {
  readonly hubId: string;
  private responseReceived = false;
  /** Frames from the ingress subject that overtook the ACCEPT (which comes on the OPEN's reply subject). */
  private earlyFrames: Frame[] = [];

  /** @internal The reply token of the message that carried this stream's OPEN, while it waits for the answer. */
  openToken: string | undefined;
  private readonly onOpenSettled: (stream: RelayClientStream) => void;

  /** @internal Streams are made by RelayClient.open(). */
  constructor(init: RelayClientStreamInit) {
    super(init);
    this.hubId = init.hubId;
    this.onOpenSettled = init.onOpenSettled;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.openToken !== undefined) this.onOpenSettled(this);
    super._destroy(error, callback);
  }

  /** @internal */
  override receive(frame: Frame): void {
    if (this.phase === StreamPhase.Opening && frame.type !== FrameType.Accept && frame.type !== FrameType.Reject) {
      if (this.earlyFrames.length >= MAX_EARLY_FRAMES) {
        this.violation(`more than ${MAX_EARLY_FRAMES} frames before ACCEPT`);
        return;
      }
      this.earlyFrames.push(frame);
      return;
    }
    super.receive(frame);
  }

  protected override canSendData(): boolean {
    return this.phase === StreamPhase.Open;
  }

  protected override canReceiveData(): boolean {
    return this.responseReceived;
  }

  protected override onControlFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Accept: {
        if (this.phase !== StreamPhase.Opening) return this.violation('ACCEPT twice');
        this.phase = StreamPhase.Open;
        if (this.openToken !== undefined) this.onOpenSettled(this);
        this.emit('accepted');
        this.startSending(frame.creditBytes);
        const early = this.earlyFrames;
        this.earlyFrames = [];
        for (const queued of early) this.receive(queued);
        this.pump();
        return;
      }
      case FrameType.Reject:
        this.peerClosed = true;
        this.destroy(new HopError(frame.code, frame.message));
        return;
      case FrameType.Response:
        if (this.responseReceived) return this.violation('RESPONSE twice');
        this.responseReceived = true;
        this.emit('response', frame.head);
        return;
      default:
        this.violation(`unexpected ${frameTypeName(frame.type)} at the ingress`);
    }
  }
}
