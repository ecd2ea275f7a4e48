import type { Redis } from 'ioredis';
import { HopError, ErrorCode } from '@hopgate/errors';
import { RedisKeys } from '@hopgate/keys';
import { scanAll } from './scan.js';
import { parseSessionRecord, type SessionRecord } from './session-record.js';
import { CLAIM_SCRIPT, REFRESH_SCRIPT, RELEASE_SCRIPT } from './session-scripts.js';

/** What a hub writes when it takes a client's session. */
export interface SessionClaim {
  hubId: string;
  /** From `nextEpoch()`. */
  epoch: number;
  /** The agent's address (`ip:port`). */
  remote: string;
  /** ms since the Unix epoch. */
  connectedAt: number;
}

/** A session as listed, with the time left before it expires unless refreshed. */
export interface ListedSession extends SessionRecord {
  /** PTTL in ms; -1 when the record has no TTL (written by hand). */
  readonly ttlMs: number;
}

/**
 * Session ownership records `hopgate:session:<client_id>` (hash: hub, epoch, connected_at,
 * remote) with a TTL the owning hub refreshes, fenced by epochs from `INCR
 * hopgate:session-epoch`: the newer epoch wins. Uses the caller's ioredis client.
 */
export class SessionStore {
  /** `keys`: the key layout; default `new RedisKeys()` (prefix `hopgate:`). */
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys = new RedisKeys(),
  ) {}

  /** A new epoch: cluster-wide, strictly greater than every epoch handed out before. */
  async nextEpoch(): Promise<number> {
    const epoch = await this.redis.incr(this.keys.sessionEpochCounter);
    if (!Number.isSafeInteger(epoch) || epoch < 1) {
      throw new HopError(ErrorCode.Internal, `session epoch counter returned ${epoch}`);
    }
    return epoch;
  }

  /**
   * Takes the session for `clientId` unless Redis holds a newer epoch (or the same epoch for
   * another hub). True: this hub owns it for `ttlMs`. False: a newer session exists; close yours.
   */
  async claim(clientId: string, claim: SessionClaim, ttlMs: number): Promise<boolean> {
    checkEpoch(claim.epoch);
    checkTtl(ttlMs);
    if (!claim.hubId) throw new HopError(ErrorCode.Internal, 'session claim: hubId is empty');
    if (!Number.isSafeInteger(claim.connectedAt) || claim.connectedAt < 0) {
      throw new HopError(ErrorCode.Internal, 'session claim: connectedAt must be ms since the Unix epoch');
    }
    const result = await CLAIM_SCRIPT.run(
      this.redis,
      [this.keys.session(clientId)],
      [claim.hubId, String(claim.epoch), String(claim.connectedAt), claim.remote, String(ttlMs)],
    );
    return result === 1;
  }

  /**
   * Extends the TTL while the record still names (`hubId`, `epoch`). False: the session was
   * replaced (or expired); the caller must close its session.
   */
  async refresh(clientId: string, hubId: string, epoch: number, ttlMs: number): Promise<boolean> {
    checkEpoch(epoch);
    checkTtl(ttlMs);
    const result = await REFRESH_SCRIPT.run(this.redis, [this.keys.session(clientId)], [hubId, String(epoch), String(ttlMs)]);
    return result === 1;
  }

  /** Deletes the record only while it still names (`hubId`, `epoch`). True when deleted. */
  async release(clientId: string, hubId: string, epoch: number): Promise<boolean> {
    checkEpoch(epoch);
    const result = await RELEASE_SCRIPT.run(this.redis, [this.keys.session(clientId)], [hubId, String(epoch)]);
    return result === 1;
  }

  /** The live record, or undefined when there is none or it is malformed. */
  async get(clientId: string): Promise<SessionRecord | undefined> {
    const hash = await this.redis.hgetall(this.keys.session(clientId));
    return parseSessionRecord(clientId, hash);
  }

  /** Every well-formed session record, sorted by client id (malformed ones are left out). */
  async list(): Promise<ListedSession[]> {
    const keys = await scanAll(this.redis, this.keys.sessionScanPattern);
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.hgetall(key).pttl(key);
    const results = (await pipeline.exec()) ?? [];
    const sessions: ListedSession[] = [];
    keys.forEach((key, i) => {
      const clientId = this.keys.clientIdOfSessionKey(key);
      const [hashErr, hash] = results[2 * i] ?? [null, null];
      const [, ttl] = results[2 * i + 1] ?? [null, null];
      if (clientId === undefined || hashErr || !hash) return; // wrong type or vanished: not a session
      const record = parseSessionRecord(clientId, hash as Record<string, string>);
      if (record) sessions.push({ ...record, ttlMs: typeof ttl === 'number' ? ttl : -1 });
    });
    return sessions;
  }
}

function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 1) throw new HopError(ErrorCode.Internal, `session epoch must be a positive integer, got ${epoch}`);
}

function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new HopError(ErrorCode.Internal, `session TTL must be a positive integer of ms, got ${ttlMs}`);
}
