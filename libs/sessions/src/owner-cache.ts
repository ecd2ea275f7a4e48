import { DEFAULT_OWNER_CACHE_TTL_MS } from '@hopgate/config';
import type { SessionRecord } from './session-record.js';

/** Above this many cached ids the cache is emptied (ids come from the route table, so this is a guard). */
export const DEFAULT_OWNER_CACHE_MAX_ENTRIES = 100_000;

export interface OwnerCacheOptions {
  /** How long an answer (a record, or "no session") is reused; default DEFAULT_OWNER_CACHE_TTL_MS (1,000). */
  ttlMs?: number;
  /** Default DEFAULT_OWNER_CACHE_MAX_ENTRIES. */
  maxEntries?: number;
  /** Clock in ms (tests); default Date.now. */
  now?: () => number;
}

/** What the cache needs from a SessionStore (or an InstanceStore: `V` = the live instances). */
export interface SessionSource<V = SessionRecord | undefined> {
  get(clientId: string): Promise<V>;
}

interface Cached<V> {
  readonly record: V;
  readonly expiresAt: number;
}

interface InFlight<V> {
  readonly promise: Promise<V>;
}

/**
 * The ingress's view of who owns each client's session: answers (including "no session")
 * are reused for `ttlMs`; concurrent lookups of one id share a single Redis round trip.
 * `invalidate` drops an answer at once (e.g. on a `session.claimed` broadcast or a send
 * that failed); a lookup already in flight is then not cached. Errors are not cached.
 */
export class OwnerCache<V = SessionRecord | undefined> {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly cached = new Map<string, Cached<V>>();
  private readonly inFlight = new Map<string, InFlight<V>>();

  constructor(
    private readonly source: SessionSource<V>,
    options: OwnerCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_OWNER_CACHE_TTL_MS;
    this.maxEntries = options.maxEntries ?? DEFAULT_OWNER_CACHE_MAX_ENTRIES;
    this.now = options.now ?? Date.now;
  }

  /** The owner record of `clientId` (undefined: no live session), at most `ttlMs` old. */
  lookup(clientId: string): Promise<V> {
    const hit = this.cached.get(clientId);
    if (hit !== undefined) {
      if (hit.expiresAt > this.now()) return Promise.resolve(hit.record);
      this.cached.delete(clientId);
    }
    const pending = this.inFlight.get(clientId);
    if (pending !== undefined) return pending.promise;
    const promise = this.source.get(clientId);
    const flight: InFlight<V> = { promise };
    this.inFlight.set(clientId, flight);
    const settle = (): void => {
      if (this.inFlight.get(clientId) === flight) this.inFlight.delete(clientId);
    };
    promise.then(
      (record) => {
        if (this.inFlight.get(clientId) !== flight) return; // invalidated meanwhile: do not cache
        settle();
        if (this.cached.size >= this.maxEntries) this.cached.clear();
        this.cached.set(clientId, { record, expiresAt: this.now() + this.ttlMs });
      },
      settle,
    );
    return promise;
  }

  /** Forgets what is known about `clientId`; the next lookup asks Redis. */
  invalidate(clientId: string): void {
    this.cached.delete(clientId);
    this.inFlight.delete(clientId);
  }

  clear(): void {
    this.cached.clear();
    this.inFlight.clear();
  }

  /** Number of cached answers (for tests and metrics). */
  get size(): number {
    return this.cached.size;
  }
}
