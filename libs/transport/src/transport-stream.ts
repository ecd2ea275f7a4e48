import { Duplex } from 'node:stream';
import { STREAM_HIGH_WATER_MARK_BYTES } from './constants.js';
import type { StreamCore } from './stream-core.js';

/**
 * One bidirectional stream (RFC 9000 §2) as a binary Duplex with half-close: `end()`
 * sends FIN for our direction while the other keeps flowing. `write()` returns false
 * once the bytes not yet acknowledged reach the credit the peer granted (backpressure);
 * credit is returned to the peer only as this side reads.
 *
 * Errors: a reset by the peer emits 'error' with a StreamResetError (code
 * ERR_STREAM_RESET, numeric `resetCode`); a closing connection destroys every stream
 * with its ConnectionCloseError. Attach an 'error' listener, as for any socket.
 * `destroy(err)` resets both directions with `err.resetCode` when it is a non-negative
 * integer, else StreamResetCode.InternalError (Cancelled when there is no error).
 *
 * Created by Connection (`openStream()`, 'stream' event), never by the application.
 */
export class TransportStream extends Duplex {
  readonly id: number;
  private readonly core: StreamCore;
  private localResetCode: number | undefined;

  /** @internal Use Connection.openStream() or the Connection 'stream' event. */
  constructor(core: StreamCore) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: STREAM_HIGH_WATER_MARK_BYTES,
      writableHighWaterMark: STREAM_HIGH_WATER_MARK_BYTES,
    });
    this.id = core.id;
    this.core = core;
    core.sink = this;
  }

  /**
   * Abandons the stream both ways: RESET_STREAM for our direction and STOP_SENDING for
   * the peer's (RFC 9000 §3.5), with application error `code` (default 0). The peer's
   * stream errors with ERR_STREAM_RESET; this side closes without an 'error' event.
   */
  reset(code = 0): void {
    if (this.destroyed) return;
    this.localResetCode = code;
    this.destroy();
  }

  /** Bytes written and not yet acknowledged by the peer, plus those queued in the Writable. */
  get sendBufferedBytes(): number {
    return this.core.send.buffered + this.writableLength;
  }

  /** Bytes received and not yet read by the application (reassembly plus the Readable's buffer). */
  get receiveBufferedBytes(): number {
    return this.core.recv.buffered + this.readableLength;
  }

  /** The credit this side has granted the peer (MAX_STREAM_DATA), in bytes from offset 0. */
  get receiveLimit(): number {
    return this.core.window.limit;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.core.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.core.final(callback);
  }

  override _read(): void {
    this.core.read();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.core.onDestroyed(error, this.localResetCode);
    callback(error);
  }
}
