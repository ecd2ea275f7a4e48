/**
 * Failed logins one address may make at once before the hub refuses it without checking.
 * Sized for NAT: many agents share one public address, and a fleet of misconfigured ones
 * (say after a token rotation) fails once each, then retries minutes apart (the agents'
 * refusal backoff). Twenty at once is far above that and far below what a guesser wants.
 */
export const AUTH_FAILURE_BURST = 20;
/**
 * One more failed login is allowed per this many ms (20 per minute sustained), in ms. It is
 * also the longest an address stays refused once its failures stop: a real agent behind the
 * same address as a flood gets its next attempt checked at most this long after the flood.
 */
export const AUTH_FAILURE_REFILL_INTERVAL_MS = 3_000;
/** Addresses tracked at once; beyond it the least recently seen is forgotten (about 100 B each). */
export const AUTH_THROTTLE_MAX_ADDRESSES = 10_000;
/** At most one "throttled" log line per address per this many ms. */
export const AUTH_THROTTLE_LOG_INTERVAL_MS = 60_000;

export interface AuthThrottleOptions {
  /** Default AUTH_FAILURE_BURST. */
  burst?: number;
  /** Default AUTH_FAILURE_REFILL_INTERVAL_MS. */
  refillIntervalMs?: number;
  /** Default AUTH_THROTTLE_MAX_ADDRESSES. */
  maxAddresses?: number;
  /** Default AUTH_THROTTLE_LOG_INTERVAL_MS. */
  logIntervalMs?: number;
  /** Clock in ms (tests); default Date.now. */
  now?: () => number;
}

/** Whether an attempt may be checked; when not, whether to log it now and how many were refused since the last line. */
export type Admission = { admitted: true } | { admitted: false; log: { refused: number } | undefined };

interface Bucket {
  /** Attempts that may still fail before the address is refused unchecked (fractional while refilling). */
  credits: number;
  updatedAt: number;
  lastLogAt: number | undefined;
  refusedSinceLog: number;
}

/**
 * Per-address token bucket of failed logins at the hub. Each login attempt takes a credit
 * before its credentials are checked (so concurrent attempts cannot overdraw it); a success
 * (or an attempt that could not be checked) gives it back, a failure keeps it spent. With no
 * credit left, attempts from that address are refused at once, without asking Redis, until
 * the bucket refills. Successful logins never spend credits, and other addresses are never
 * affected. Bounded: the least recently seen address is forgotten beyond `maxAddresses`.
 */
export class AuthThrottle {
  private readonly burst: number;
  private readonly refillIntervalMs: number;
  private readonly maxAddresses: number;
  private readonly logIntervalMs: number;
  private readonly now: () => number;
  /** In least-recently-seen order (a touched entry moves to the end). */
  private readonly buckets = new Map<string, Bucket>();

  constructor(options: AuthThrottleOptions = {}) {
    this.burst = options.burst ?? AUTH_FAILURE_BURST;
    this.refillIntervalMs = options.refillIntervalMs ?? AUTH_FAILURE_REFILL_INTERVAL_MS;
    this.maxAddresses = options.maxAddresses ?? AUTH_THROTTLE_MAX_ADDRESSES;
    this.logIntervalMs = options.logIntervalMs ?? AUTH_THROTTLE_LOG_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  /** Takes a credit for one login attempt from `address`, or says it is refused unchecked. */
  admit(address: string): Admission {
    const now = this.now();
    const bucket = this.touch(address, now);
    if (bucket.credits >= 1) {
      bucket.credits -= 1;
      return { admitted: true };
    }
    bucket.refusedSinceLog += 1;
    if (bucket.lastLogAt !== undefined && now - bucket.lastLogAt < this.logIntervalMs) return { admitted: false, log: undefined };
    const refused = bucket.refusedSinceLog;
    bucket.refusedSinceLog = 0;
    bucket.lastLogAt = now;
    return { admitted: false, log: { refused } };
  }

  /** The admitted attempt from `address` succeeded, or could not be checked: its credit comes back. */
  refund(address: string): void {
    const bucket = this.buckets.get(address);
    if (!bucket) return;
    this.refill(bucket, this.now());
    bucket.credits = Math.min(this.burst, bucket.credits + 1);
  }

  /** Addresses tracked (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private touch(address: string, now: number): Bucket {
    let bucket = this.buckets.get(address);
    if (bucket) {
      this.buckets.delete(address);
      this.refill(bucket, now);
    } else {
      bucket = { credits: this.burst, updatedAt: now, lastLogAt: undefined, refusedSinceLog: 0 };
      while (this.buckets.size >= this.maxAddresses) {
        const oldest = this.buckets.keys().next();
        if (oldest.done) break;
        this.buckets.delete(oldest.value);
      }
    }
    this.buckets.set(address, bucket);
    return bucket;
  }

  private refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.updatedAt);
    bucket.credits = Math.min(this.burst, bucket.credits + elapsed / this.refillIntervalMs);
    bucket.updatedAt = now;
  }
}
