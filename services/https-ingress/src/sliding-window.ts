/**
 * An exact sliding-window limit on events: the times of the last `limit` events are kept in a
 * ring, and an event is over the limit when the oldest of them is less than `windowMs` old,
 * i.e. when it would make `limit + 1` events within any `windowMs`. O(1) per event; the ring
 * (`limit` numbers) is allocated at the first event, so an idle owner costs nothing.
 */
export class SlidingWindowLimit {
  private times: Float64Array | undefined;
  /** Ring index of the oldest kept time once the ring is full (and of the next write). */
  private next = 0;
  private kept = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  /** Records an event at `nowMs` (a monotonic clock); true when it is over the limit. */
  hit(nowMs: number): boolean {
    const times = (this.times ??= new Float64Array(this.limit));
    const over = this.kept === this.limit && nowMs - (times[this.next] ?? 0) < this.windowMs;
    times[this.next] = nowMs;
    this.next = (this.next + 1) % this.limit;
    if (this.kept < this.limit) this.kept += 1;
    return over;
  }
}
