import type { Readable } from 'node:stream';
import { HopError, ErrorCode } from '@hopgate/errors';
import { decodeMessage, decodePreface, PREFACE_BYTES } from './codec.js';
import type { WireMessage } from './messages.js';

/**
 * Reads framed messages from a byte stream. Bytes after a message stay in the stream
 * (`unshift`), so a request stream can be read as one head message and then a raw body.
 */
export class MessageStreamReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly stream: Readable) {}

  /** Reads and checks the 6-byte preface. */
  async readPreface(): Promise<number> {
    const bytes = await this.readExactly(PREFACE_BYTES);
    return decodePreface(bytes);
  }

  /** Reads one whole message; rejects with Closed if the stream ends first. */
  async readMessage(): Promise<WireMessage> {
    for (;;) {
      const decoded = decodeMessage(this.pending);
      if (decoded) {
        const rest = this.pending.subarray(decoded.bytes);
        this.pending = Buffer.alloc(0);
        if (rest.length > 0) this.stream.unshift(rest);
        return decoded.message;
      }
      const chunk = await this.nextChunk();
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    }
  }

  private async readExactly(n: number): Promise<Buffer> {
    while (this.pending.length < n) {
      const chunk = await this.nextChunk();
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    }
    const out = this.pending.subarray(0, n);
    const rest = this.pending.subarray(n);
    this.pending = Buffer.alloc(0);
    if (rest.length > 0) this.stream.unshift(rest);
    return out;
  }

  private nextChunk(): Promise<Buffer> {
    const stream = this.stream;
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) return Promise.resolve(chunk);
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        stream.off('readable', onReadable);
        stream.off('end', onEnd);
        stream.off('error', onError);
        stream.off('close', onClose);
      };
      const onReadable = (): void => {
        const c = stream.read() as Buffer | null;
        if (c !== null) {
          cleanup();
          resolve(c);
        }
      };
      const onEnd = (): void => {
        cleanup();
        reject(new HopError(ErrorCode.Closed, 'stream ended before a whole message arrived'));
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(err);
      };
      const onClose = (): void => {
        cleanup();
        reject(new HopError(ErrorCode.Closed, 'stream closed before a whole message arrived'));
      };
      if (stream.destroyed || stream.readableEnded) {
        reject(new HopError(ErrorCode.Closed, 'stream closed before a whole message arrived'));
        return;
      }
      stream.on('readable', onReadable);
      stream.once('end', onEnd);
      stream.once('error', onError);
      stream.once('close', onClose);
    });
  }
}
