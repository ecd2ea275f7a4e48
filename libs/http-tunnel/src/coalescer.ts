import { Transform, type TransformCallback } from 'node:stream';

/** Default upper bound of one coalesced chunk, in bytes (a relay DATA frame's sweet spot). */
export const DEFAULT_COALESCE_BYTES = 60 * 1024;

/**
 * Joins the small chunks a datagram transport delivers (~1.1 KB each) into larger ones
 * before they reach a consumer that pays per chunk (a NATS publish, a socket write).
 * A chunk leaves when `maxBytes` are gathered or at the end of the current event-loop
 * turn (setImmediate), whichever comes first: no timer-based delay, so streaming
 * responses (SSE) are not held back.
 *
 * Backpressure: a Transform only holds back its writer when `_transform` pushes synchronously,
 * and the end-of-turn release pushes later; so while the readable buffer is at its high-water
 * mark, `_transform` keeps its callback until the reader asks for more (`_read`). Without
 * this, a reader that stops (a paused browser, a full relay window) let the buffer grow
 * without bound.
 */
export class Coalescer extends Transform {
  private parts: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;
  /** A `_transform` callback held back while the reader is not reading. */
  private heldCallback: TransformCallback | undefined;

  constructor(private readonly maxBytes: number = DEFAULT_COALESCE_BYTES) {
    super({ writableHighWaterMark: maxBytes, readableHighWaterMark: maxBytes });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.parts.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= this.maxBytes) {
      this.release();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        if (!this.destroyed) this.release();
      });
    }
    if (this.readableLength >= this.readableHighWaterMark) this.heldCallback = callback;
    else callback();
  }

  override _read(size: number): void {
    const callback = this.heldCallback;
    this.heldCallback = undefined;
    callback?.();
    super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    this.release();
    callback();
  }

  private release(): void {
    if (this.bytes === 0) return;
    const out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    this.push(out);
  }
}
