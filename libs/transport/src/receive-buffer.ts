/**
 * Reassembly of one stream's incoming bytes (RFC 9000 §2.2): out-of-order and duplicate
 * STREAM data is kept as sorted, non-overlapping segments (views into the datagrams, no
 * copy) and handed out in order.
 */
export class ReceiveBuffer {
  private offsets: number[] = [];
  private datas: Buffer[] = [];
  /** Bytes handed out so far (the next offset `shift` returns). */
  readOffset = 0;
  /** Bytes held in segments. */
  buffered = 0;

  /** Segments held. */
  get segmentCount(): number {
    return this.offsets.length;
  }

  /** Stores [offset, offset + data.length), ignoring any part already held or handed out. */
  insert(offset: number, data: Buffer): void {
    let start = Math.max(offset, this.readOffset);
    const end = offset + data.length;
    if (start >= end) return;
    const n = this.offsets.length;
    // Fast path: after every held segment.
    if (n === 0 || start >= this.segmentEnd(n - 1)) {
      this.offsets.push(start);
      this.datas.push(start === offset ? data : data.subarray(start - offset));
      this.buffered += end - start;
      return;
    }
    let i = this.firstEndingAfter(start);
    while (start < end) {
      if (i < this.offsets.length && (this.offsets[i] as number) <= start) {
        start = Math.max(start, this.segmentEnd(i));
        i++;
        continue;
      }
      const gapEnd = i < this.offsets.length ? Math.min(end, this.offsets[i] as number) : end;
      this.offsets.splice(i, 0, start);
      this.datas.splice(i, 0, data.subarray(start - offset, gapEnd - offset));
      this.buffered += gapEnd - start;
      i++;
      start = gapEnd;
    }
  }

  /** The next in-order segment, or null when the next byte has not arrived. */
  shift(): Buffer | null {
    if (this.offsets.length === 0 || this.offsets[0] !== this.readOffset) return null;
    const data = this.datas[0] as Buffer;
    this.offsets.shift();
    this.datas.shift();
    this.readOffset += data.length;
    this.buffered -= data.length;
    return data;
  }

  /**
   * Like `shift`, but a run of small in-order segments comes out as one Buffer (at most
   * `maxBytes`), so that tiny frames do not become one Readable chunk each.
   */
  shiftMerged(smallBytes: number, maxBytes: number): Buffer | null {
    const first = this.shift();
    if (first === null || first.length >= smallBytes) return first;
    const parts = [first];
    let total = first.length;
    while (this.offsets.length > 0 && this.offsets[0] === this.readOffset) {
      const next = this.datas[0] as Buffer;
      if (next.length >= smallBytes || total + next.length > maxBytes) break;
      parts.push(this.shift() as Buffer);
      total += next.length;
    }
    return parts.length === 1 ? first : Buffer.concat(parts, total);
  }

  /** Drops everything held (reset or abandoned). */
  clear(): void {
    this.offsets = [];
    this.datas = [];
    this.buffered = 0;
  }

  private segmentEnd(index: number): number {
    return (this.offsets[index] as number) + (this.datas[index] as Buffer).length;
  }

  private firstEndingAfter(value: number): number {
    let lo = 0;
    let hi = this.offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segmentEnd(mid) <= value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
