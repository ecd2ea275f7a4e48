import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { decodeFrames, encodeFrame, FrameType, type Frame, type ResetFrame } from '../src/index.js';

/**
 * A hub written with raw frames on a real NATS connection, for what a RelayServer will not do on
 * demand: stop answering PING while its subscription stays (a wedged process), never answer it
 * (an older version), or answer with another instance id (a restart under the same hub id).
 * It accepts every OPEN and sends RESPONSE "200" at once, ACCEPT as the answer to the message
 * that carried the OPEN (as a hub of version 1 did: the ingress takes it there too).
 */
export class FakeHub {
  /** Answer PING with PONG (false: drop PINGs, as a hub that predates them does). */
  answerPings = true;
  instance = 'fake-instance-a';
  pings = 0;
  pongs = 0;
  readonly resets: ResetFrame[] = [];
  private readonly streams = new Map<string, { replyTo: string; nextSeq: number }>();
  private readonly subscription: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    subject: string,
  ) {
    this.subscription = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (!err) this.onMessage(msg);
      },
    });
  }

  /** Resolves once the server has the subscription. */
  ready(): Promise<void> {
    return this.nc.flush();
  }

  /** Ends the response body of a stream (END). */
  end(streamId: string): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined) throw new Error(`fake hub has no stream ${streamId}`);
    this.nc.publish(stream.replyTo, encodeFrame({ type: FrameType.End, streamId, seq: stream.nextSeq++ }));
  }

  close(): void {
    this.subscription.unsubscribe();
  }

  private onMessage(msg: Msg): void {
    let frames: Frame[];
    try {
      frames = decodeFrames(msg.data);
    } catch {
      return;
    }
    for (const frame of frames) this.onFrame(msg, frame);
  }

  private onFrame(msg: Msg, frame: Frame): void {
    switch (frame.type) {
      case FrameType.Open:
        msg.respond(encodeFrame({ type: FrameType.Accept, streamId: frame.streamId, seq: 0, creditBytes: 64 * 1024 }));
        this.nc.publish(frame.replyTo, encodeFrame({ type: FrameType.Response, streamId: frame.streamId, seq: 1, head: Buffer.from('200') }));
        this.streams.set(frame.streamId, { replyTo: frame.replyTo, nextSeq: 2 });
        return;
      case FrameType.Ping:
        this.pings += 1;
        if (!this.answerPings) return;
        msg.respond(encodeFrame({ type: FrameType.Pong, streamId: frame.streamId, seq: frame.seq, instance: this.instance }));
        this.pongs += 1;
        return;
      case FrameType.Reset:
        this.resets.push(frame);
        return;
      default:
    }
  }
}
