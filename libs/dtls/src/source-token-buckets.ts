import { performance } from 'node:perf_hooks';

/** The shape of every source's bucket. */
export interface TokenBucketLimits {
  /** Tokens a bucket holds when full: what a new or idle source may take at once. */
  burst: number;
  /** Tokens added to a bucket per second, up to `burst`. */
  ratePerS: number;
  /** Most sources held; past it the least recently seen one is forgotten. */
  maxSources: number;
}

interface Bucket {
  tokens: number;
  /** `now()` when `tokens` was last brought up to date, in ms. */
  updatedAtMs: number;
}

const MS_PER_S = 1_000;

/**
 * One token bucket per source, for a rate of work (handshakes) each source may start.
 * A source without an entry has a full bucket: an entry is forgotten once its bucket is
 * surely full again (burst / rate after its last use), and when `maxSources` entries are
 * held, the least recently used one is forgotten to make room. The map is kept in order
 * of last use, so both are O(1) per `take`, amortised.
 */
export class SourceTokenBuckets {
  /** Least recently used first. */
  private readonly buckets = new Map<string, Bucket>();
  /** Time for an empty bucket to fill up, in ms: an entry idle this long is full. */
  private readonly refillMs: number;

  constructor(
    readonly limits: TokenBucketLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.refillMs = (limits.burst / limits.ratePerS) * MS_PER_S;
  }

  /** Sources with a bucket that may not be full. */
  get sourceCount(): number {
    return this.buckets.size;
  }

  /** Takes a token from `source`'s bucket: true if it had one (the work may start). */
  take(source: string): boolean {
    const now = this.now();
    this.forgetIdle(now);
    let bucket = this.buckets.get(source);
    if (bucket) {
      this.buckets.delete(source);
      const refilled = ((now - bucket.updatedAtMs) * this.limits.ratePerS) / MS_PER_S;
      bucket.tokens = Math.min(this.limits.burst, bucket.tokens + refilled);
      bucket.updatedAtMs = now;
    } else {
      this.makeRoom();
      bucket = { tokens: this.limits.burst, updatedAtMs: now };
    }
    this.buckets.set(source, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Forgets the entries, oldest first, that were last used at least `refillMs` ago. */
  private forgetIdle(now: number): void {
    for (const [source, bucket] of this.buckets) {
      if (now - bucket.updatedAtMs < this.refillMs) return;
      this.buckets.delete(source);
    }
  }

  /** At `maxSources` entries, forgets the least recently used one. */
  private makeRoom(): void {
    if (this.buckets.size < this.limits.maxSources) return;
    const oldest = this.buckets.keys().next();
    if (!oldest.done) this.buckets.delete(oldest.value);
  }
}
