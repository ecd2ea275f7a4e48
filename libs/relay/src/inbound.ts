import { errorCodeOf, errorMessageOf } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import { decodeFrames } from './codec.js';
import { frameTypeName, type Frame, type FrameType } from './frames.js';
import type { RelayStream } from './relay-stream.js';

/**
 * Decodes what arrives on a node's subject. Garbage (bad magic or version, truncated, a type that
 * does not belong on this subject) is dropped and logged, never thrown: one bad publisher must
 * not take the subscription down.
 */
export class Inbound {
  private dropped = 0;

  constructor(
    private readonly log: Logger,
    private readonly allowed: ReadonlySet<FrameType>,
  ) {}

  get droppedFrameCount(): number {
    return this.dropped;
  }

  /**
   * The frames of a message, in order; undefined when the message is garbage (all of it is
   * dropped: past a bad frame nothing can be trusted). A frame of a type that does not belong on
   * this subject is dropped alone.
   */
  decode(data: Uint8Array, subject: string, allowed: ReadonlySet<FrameType> = this.allowed): Frame[] | undefined {
    let frames: Frame[];
    try {
      frames = decodeFrames(data);
    } catch (err) {
      this.drop(subject, data.byteLength, errorMessageOf(err), errorCodeOf(err));
      return undefined;
    }
    for (const frame of frames) {
      if (allowed.has(frame.type)) continue;
      this.drop(subject, data.byteLength, `${frameTypeName(frame.type)} does not belong on this subject`);
      return frames.filter((f) => allowed.has(f.type));
    }
    return frames;
  }

  /** The one frame of a message (a PONG): undefined when it is garbage or holds anything else. */
  decodeOne(data: Uint8Array, subject: string, allowed: ReadonlySet<FrameType>): Frame | undefined {
    const frames = this.decode(data, subject, allowed);
    if (frames === undefined || frames.length !== 1) {
      if (frames !== undefined) this.drop(subject, data.byteLength, `${frames.length} frames where one was expected`);
      return undefined;
    }
    return frames[0];
  }

  drop(subject: string, bytes: number, reason: string, code?: string): void {
    this.dropped += 1;
    this.log.warn({ subject, bytes, reason, err_code: code }, 'relay frame dropped');
  }

  /** Hands a frame to its stream; a throwing listener resets that stream, not the subscription. */
  deliver(stream: RelayStream, frame: Frame): void {
    try {
      stream.receive(frame);
    } catch (err) {
      this.log.error({ request_id: stream.requestId, err_message: errorMessageOf(err) }, 'relay stream listener threw');
      stream.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
