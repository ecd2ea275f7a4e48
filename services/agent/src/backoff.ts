/**
 * Exponential backoff with jitter for reconnects: the n-th delay is drawn from
 * [base/2, base] where base = min(maxMs, minMs * 2^n) ("equal jitter"), so a fleet of
 * agents that lost the same hub does not come back in one storm.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next delay in ms; each call doubles the base up to the cap. */
  next(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.round(base / 2 + this.random() * (base / 2));
  }

  /** After a session that worked: start again from the minimum. */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
