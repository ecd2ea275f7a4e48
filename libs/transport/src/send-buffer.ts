import { RangeSet } from './range-set.js';

const EMPTY = Buffer.alloc(0);
/** Released chunk slots tolerated at the front before the arrays are compacted. */
const COMPACT_AFTER_CHUNKS = 64;

/**
 * The outgoing bytes of one stream, kept (as the application's own Buffers, no copy)
 * until acknowledged. Lost ranges are resent by offset (RFC 9000 §13.3: retransmit the
 * data, not the packet). Offsets are stream offsets.
 */
export class SendBuffer {
  private chunks: Buffer[] = [];
  private chunkStarts: number[] = [];
  private head = 0;
  /** Every byte below this offset is acknowledged and released. */
  ackedPrefix = 0;
  /** End of the data written by the application. */
  writeOffset = 0;
  /** First byte never sent. */
  nextOffset = 0;
  /** Acknowledged ranges at or above `ackedPrefix`. */
  private readonly acked = new RangeSet();
  /** Ranges to send again, never overlapping acknowledged ones. */
  readonly lost = new RangeSet();
  /** Final size once the application ended the stream, else -1. */
  finOffset = -1;
  /** The FIN bit must be sent (first time, or again after a loss). */
  finPending = false;
  finAcked = false;

  /** Bytes held: written but not yet acknowledged. */
  get buffered(): number {
    return this.writeOffset - this.ackedPrefix;
  }

  /** Bytes written but never sent. */
  get unsent(): number {
    return this.writeOffset - this.nextOffset;
  }

  /** Everything including the FIN is acknowledged (RFC 9000 §3.1 "Data Recvd"). */
  get allAcked(): boolean {
    return this.finAcked && this.ackedPrefix === this.finOffset;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.chunkStarts.push(this.writeOffset);
    this.writeOffset += chunk.length;
  }

  end(): void {
    if (this.finOffset >= 0) return;
    this.finOffset = this.writeOffset;
    this.finPending = true;
  }

  /** Copies [offset, offset + length) into `target` at `pos`. The range must be held. */
  copy(offset: number, length: number, target: Uint8Array, pos: number): void {
    let i = this.findChunk(offset);
    let skip = offset - (this.chunkStarts[i] as number);
    while (length > 0) {
      const chunk = this.chunks[i] as Buffer;
      const take = Math.min(chunk.length - skip, length);
      target.set(skip === 0 && take === chunk.length ? chunk : chunk.subarray(skip, skip + take), pos);
      pos += take;
      length -= take;
      skip = 0;
      i++;
    }
  }

  onAcked(offset: number, length: number, fin: boolean): void {
    const start = Math.max(offset, this.ackedPrefix);
    const end = offset + length;
    if (start < end) {
      this.acked.add(start, end);
      this.lost.remove(start, end);
      if (this.acked.min === this.ackedPrefix) {
        this.ackedPrefix = this.acked.endAt(0);
        this.acked.removeBelow(this.ackedPrefix);
        this.release();
      }
    }
    if (fin) {
      this.finAcked = true;
      this.finPending = false;
    }
  }

  onLost(offset: number, length: number, fin: boolean): void {
    const start = Math.max(offset, this.ackedPrefix);
    const end = offset + length;
    if (start < end) this.lost.addExcluding(start, end, this.acked);
    if (fin && !this.finAcked) this.finPending = true;
  }

  /** Drops all data (the stream was reset). */
  clear(): void {
    this.chunks = [];
    this.chunkStarts = [];
    this.head = 0;
    this.lost.clear();
    this.acked.clear();
    this.finPending = false;
  }

  private findChunk(offset: number): number {
    let lo = this.head;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.chunkStarts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private release(): void {
    const prefix = this.ackedPrefix;
    while (this.head < this.chunks.length) {
      const chunk = this.chunks[this.head] as Buffer;
      if ((this.chunkStarts[this.head] as number) + chunk.length > prefix) break;
      this.chunks[this.head] = EMPTY;
      this.head++;
    }
    if (this.head >= COMPACT_AFTER_CHUNKS && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.chunkStarts = this.chunkStarts.slice(this.head);
      this.head = 0;
    }
  }
}
