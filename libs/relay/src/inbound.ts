import { errorCodeOf, errorMessageOf } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import { decodeFrame } from './codec.js';
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

  decode(data: Uint8Array, subject: string, allowed: ReadonlySet<FrameType> = this.allowed): Frame | undefined {
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (err) {
      this.drop(subject, data.byteLength, errorMessageOf(err), errorCodeOf(err));
      return undefined;
    }
    if (!allowed.has(frame.type)) {
      this.drop(subject, data.byteLength, `${frameTypeName(frame.type)} does not belong on this subject`);
      return undefined;
    }
    return frame;
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
