/**
 * A set of integers kept as sorted, disjoint, non-adjacent half-open ranges [start, end).
 * Used for received packet numbers (ACK ranges) and for acknowledged or lost stream bytes.
 * Most additions extend the last range, which is the fast path.
 */
export class RangeSet {
  private starts: number[] = [];
  private ends: number[] = [];

  /** Number of disjoint ranges. */
  get rangeCount(): number {
    return this.starts.length;
  }

  get isEmpty(): boolean {
    return this.starts.length === 0;
  }

  /** Start of range `index` (ascending order). */
  startAt(index: number): number {
    return this.starts[index] as number;
  }

  /** End (exclusive) of range `index`. */
  endAt(index: number): number {
    return this.ends[index] as number;
  }

  /** Smallest member, or -1 when empty. */
  get min(): number {
    return this.starts.length === 0 ? -1 : (this.starts[0] as number);
  }

  /** Largest member plus one, or -1 when empty. */
  get maxEnd(): number {
    const n = this.ends.length;
    return n === 0 ? -1 : (this.ends[n - 1] as number);
  }

  clear(): void {
    this.starts.length = 0;
    this.ends.length = 0;
  }

  /** Index of the first range whose end is >= value (ranges that touch or follow value). */
  private firstEndingAtOrAfter(value: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ends[mid] as number) < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(value: number): boolean {
    const i = this.firstEndingAtOrAfter(value + 1);
    return i < this.starts.length && (this.starts[i] as number) <= value;
  }

  /** True when every member of [start, end) is in the set. */
  covers(start: number, end: number): boolean {
    if (start >= end) return true;
    const i = this.firstEndingAtOrAfter(start + 1);
    return i < this.starts.length && (this.starts[i] as number) <= start && (this.ends[i] as number) >= end;
  }

  add(start: number, end: number): void {
    if (start >= end) return;
    const n = this.starts.length;
    // Fast path: at or after the last range.
    if (n === 0 || start > (this.ends[n - 1] as number)) {
      this.starts.push(start);
      this.ends.push(end);
      return;
    }
    if (start >= (this.starts[n - 1] as number)) {
      if (end > (this.ends[n - 1] as number)) this.ends[n - 1] = end;
      return;
    }
    const first = this.firstEndingAtOrAfter(start);
    let last = first;
    while (last < n && (this.starts[last] as number) <= end) last++;
    // Ranges first..last-1 touch or overlap [start, end): merge them.
    if (first === last) {
      this.starts.splice(first, 0, start);
      this.ends.splice(first, 0, end);
      return;
    }
    const mergedStart = Math.min(start, this.starts[first] as number);
    const mergedEnd = Math.max(end, this.ends[last - 1] as number);
    this.starts.splice(first, last - first, mergedStart);
    this.ends.splice(first, last - first, mergedEnd);
  }

  remove(start: number, end: number): void {
    if (start >= end || this.starts.length === 0) return;
    let i = this.firstEndingAtOrAfter(start + 1);
    while (i < this.starts.length) {
      const rs = this.starts[i] as number;
      const re = this.ends[i] as number;
      if (rs >= end) break;
      if (rs < start && re > end) {
        // Split one range in two.
        this.ends[i] = start;
        this.starts.splice(i + 1, 0, end);
        this.ends.splice(i + 1, 0, re);
        return;
      }
      if (rs < start) {
        this.ends[i] = start;
        i++;
      } else if (re > end) {
        this.starts[i] = end;
        return;
      } else {
        this.starts.splice(i, 1);
        this.ends.splice(i, 1);
      }
    }
  }

  /** Drops every member below `value`. */
  removeBelow(value: number): void {
    let drop = 0;
    while (drop < this.starts.length && (this.ends[drop] as number) <= value) drop++;
    if (drop > 0) {
      this.starts.splice(0, drop);
      this.ends.splice(0, drop);
    }
    if (this.starts.length > 0 && (this.starts[0] as number) < value) this.starts[0] = value;
  }

  /** Drops the lowest ranges until at most `maxRanges` remain. */
  keepHighest(maxRanges: number): void {
    const excess = this.starts.length - maxRanges;
    if (excess > 0) {
      this.starts.splice(0, excess);
      this.ends.splice(0, excess);
    }
  }

  /** Adds [start, end) minus the members of `exclude`. */
  addExcluding(start: number, end: number, exclude: RangeSet): void {
    let cursor = start;
    let i = exclude.firstEndingAtOrAfter(start + 1);
    while (cursor < end) {
      if (i >= exclude.starts.length || (exclude.starts[i] as number) >= end) {
        this.add(cursor, end);
        return;
      }
      const xs = exclude.starts[i] as number;
      const xe = exclude.ends[i] as number;
      if (xs > cursor) this.add(cursor, xs);
      cursor = Math.max(cursor, xe);
      i++;
    }
  }
}
