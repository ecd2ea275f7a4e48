import type { Readable } from 'node:stream';
import { HopError, ErrorCode } from '@hopgate/errors';
import { decodeMessage, decodePreface, peekMessage, PREFACE_BYTES } from './codec.js';
import type { MessageKind, WireMessage } from './messages.js';

/** Tries to take one item from the front of `buf`: the item and the bytes it used, or undefined. */
type Extractor<T> = (buf: Buffer) => { value: T; bytes: number } | undefined;

/**
 * Reads framed messages from a byte stream. Bytes after a message stay in the stream
 * (`unshift`), so a request stream can be read as one head message and then a raw body.
 *
 * Decoding and `unshift` happen synchronously in the same tick as `read()`: if the stream
 * has already seen its end, Node emits 'end' on the next tick, and an `unshift` after that
 * would lose the body bytes that came with the head.
 */
export class MessageStreamReader {
  constructor(private readonly stream: Readable) {}

  /** Reads and checks the 6-byte preface. */
  async readPreface(): Promise<number> {
    return this.readItem((buf) => (buf.length < PREFACE_BYTES ? undefined : { value: decodePreface(buf), bytes: PREFACE_BYTES }));
  }

  /** Reads one whole message; rejects with Closed if the stream ends first. */
  async readMessage(): Promise<WireMessage> {
    return this.readItem((buf) => {
      const decoded = decodeMessage(buf);
      return decoded ? { value: decoded.message, bytes: decoded.bytes } : undefined;
    });
  }

  /**
   * Reads one whole message without decoding it: its kind (from the tag) and its exact bytes.
   * The hub's splice uses it for the agent's response head, which it passes on as it came.
   */
  async readRawMessage(): Promise<{ kind: MessageKind; bytes: Buffer }> {
    return this.readItem((buf) => {
      const framing = peekMessage(buf);
      if (!framing || buf.length < framing.bytes) return undefined;
      return { value: { kind: framing.kind, bytes: buf.subarray(0, framing.bytes) }, bytes: framing.bytes };
    });
  }

  private readItem<T>(extract: Extractor<T>): Promise<T> {
    const stream = this.stream;
    let pending: Buffer = Buffer.alloc(0);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const cleanup = (): void => {
        stream.off('readable', pump);
        stream.off('end', onEnd);
        stream.off('error', onError);
        stream.off('close', onClose);
      };
      const finish = (err: Error | undefined, value?: T): void => {
        if (settled) return;
        settled = true;
        cleanup();
        if (err) reject(err);
        else resolve(value as T);
      };
      /** Pulls chunks until one item is whole; returns leftover bytes to the stream at once. */
      function pump(): void {
        for (;;) {
          if (settled) return;
          let item: { value: T; bytes: number } | undefined;
          try {
            item = extract(pending);
          } catch (err) {
            finish(err as Error);
            return;
          }
          if (item) {
            const rest = pending.subarray(item.bytes);
            // Remove our listeners before unshift so 'readable' is not re-entered.
            settled = true;
            cleanup();
            if (rest.length > 0) stream.unshift(rest);
            resolve(item.value);
            return;
          }
          const chunk = stream.read() as Buffer | null;
          if (chunk === null) return;
          pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        }
      }
      const onEnd = (): void => finish(new HopError(ErrorCode.Closed, 'stream ended before a whole message arrived'));
      const onError = (err: Error): void => finish(err);
      const onClose = (): void => finish(new HopError(ErrorCode.Closed, 'stream closed before a whole message arrived'));
      if (stream.destroyed || stream.readableEnded) {
        finish(new HopError(ErrorCode.Closed, 'stream closed before a whole message arrived'));
        return;
      }
      stream.on('readable', pump);
      stream.once('end', onEnd);
      stream.once('error', onError);
      stream.once('close', onClose);
      pump();
    });
  }
}
