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

/** Where the cache reads an owner from (a SessionStore): rejects when the store cannot be read. */
export interface OwnerSource<V> {
  get(clientId: string): Promise<V>;
}

/** What the cache needs from a SessionStore (the default instantiation). */
export type SessionSource<V = SessionRecord | undefined> = OwnerSource<V>;

interface Cached<V> {
  readonly value: V;
  /** Fresh until then; afterwards kept only as the answer of a lookup whose read fails. */
  readonly freshUntil: number;
}

interface InFlight<V> {
  readonly promise: Promise<V>;
}

/**
 * The ingress's view of who owns each client's session: answers (including "no session")
 * are reused for `ttlMs`; concurrent lookups of one id share a single read of the source.
 *
 * Stale-if-error (riding out a Redis outage): an answer past its `ttlMs`, or one dropped by
 * `invalidate`, is kept as the last known owner. A lookup reads the source again; when that
 * read fails, the last known owner is the answer instead of the error. Only an id never read
 * successfully fails its lookup. Once a read has failed, and until one succeeds, a known id is
 * answered at once with its last value while a read runs behind it (a hung source does not
 * hold requests for its command timeout each time). Invalidating during an outage keeps the stale
 * answer: with the source unreadable there is nothing better to go by, and a hub that lost
 * the session answers ERR_CLIENT_OFFLINE itself (the same 502 the browser would get without
 * an owner). A read in flight when `invalidate` is called is not cached.
 */
export class OwnerCache<V = SessionRecord | undefined> {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly cached = new Map<string, Cached<V>>();
  private readonly inFlight = new Map<string, InFlight<V>>();
  private staleAnswers = 0;
  /** The last read (of any id) failed; cleared by the next one that succeeds. */
  private sourceFailing = false;

  constructor(
    private readonly source: OwnerSource<V>,
    options: OwnerCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_OWNER_CACHE_TTL_MS;
    this.maxEntries = options.maxEntries ?? DEFAULT_OWNER_CACHE_MAX_ENTRIES;
    this.now = options.now ?? Date.now;
  }

  /** The owner of `clientId` (for SessionRecord: undefined, no live session), at most `ttlMs` old while the source answers. */
  lookup(clientId: string): Promise<V> {
    const hit = this.cached.get(clientId);
    if (hit !== undefined && hit.freshUntil > this.now()) return Promise.resolve(hit.value);
    if (hit !== undefined && this.sourceFailing) {
      // The last read of any id failed: answer what is known now and read again behind it, so a
      // hung source (no answer until its command timeout) does not hold every request.
      this.read(clientId, true).catch(() => undefined);
      this.staleAnswers += 1;
      return Promise.resolve(hit.value);
    }
    return this.read(clientId);
  }

  /**
   * One read of `clientId` (shared by concurrent callers): the fresh value, else the last known
   * one, else the error. `behind`: nobody waits for it (the caller answered already).
   */
  private read(clientId: string, behind = false): Promise<V> {
    const pending = this.inFlight.get(clientId);
    if (pending !== undefined) return pending.promise;
    const promise = this.source.get(clientId).then(
      (value) => {
        this.sourceFailing = false;
        if (this.inFlight.get(clientId) !== flight) return value; // invalidated meanwhile: do not cache
        this.inFlight.delete(clientId);
        if (this.cached.size >= this.maxEntries && !this.cached.has(clientId)) this.cached.clear();
        this.cached.set(clientId, { value, freshUntil: this.now() + this.ttlMs });
        return value;
      },
      (err: unknown) => {
        this.sourceFailing = true;
        if (this.inFlight.get(clientId) === flight) this.inFlight.delete(clientId);
        const last = this.cached.get(clientId);
        if (last === undefined) throw err;
        if (!behind) this.staleAnswers += 1;
        return last.value;
      },
    );
    const flight: InFlight<V> = { promise };
    this.inFlight.set(clientId, flight);
    return promise;
  }

  /** Ends the freshness of what is known about `clientId`: the next lookup reads the source (the old answer stays as its fallback). */
  invalidate(clientId: string): void {
    const hit = this.cached.get(clientId);
    if (hit !== undefined) this.cached.set(clientId, { value: hit.value, freshUntil: 0 });
    this.inFlight.delete(clientId);
  }

  /** Forgets everything, fallbacks included. */
  clear(): void {
    this.cached.clear();
    this.inFlight.clear();
  }

  /** Number of cached answers, fresh or kept as fallbacks (for tests and metrics). */
  get size(): number {
    return this.cached.size;
  }

  /** Lookups answered with a stale owner because the source could not be read (for tests and metrics). */
  get staleAnswerCount(): number {
    return this.staleAnswers;
  }
}
