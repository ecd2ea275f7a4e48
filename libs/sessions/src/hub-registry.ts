import type { Redis } from 'ioredis';
import { HopError, ErrorCode } from '@hopgate/errors';
import { RedisKeys } from '@hopgate/keys';
import { scanAll } from './scan.js';

/** Lifetime of a hub registry entry; the hub re-registers every third of it. */
export const DEFAULT_HUB_TTL_MS = 15_000;

/** Field names of a hub hash `hopgate:hub:<hub_id>` (docs/redis.md). */
export const HUB_FIELDS = {
  startedAt: 'started_at',
  dtlsListen: 'dtls_listen',
  natsSubject: 'nats_subject',
} as const;

export interface HubRecord {
  readonly hubId: string;
  /** `started_at`: ms since the Unix epoch. */
  readonly startedAt: number;
  /** `dtls_listen`: the DTLS address agents use (`host:port`). */
  readonly dtlsListen: string;
  /** `nats_subject`: where the hub listens on NATS (optional). */
  readonly natsSubject?: string;
}

/** What a hub says about itself when it registers. */
export interface HubInfo {
  /** The DTLS address agents use (`host:port`). */
  readonly dtlsListen: string;
  /** ms since the Unix epoch; default: first registration by this HubRegistry. */
  readonly startedAt?: number;
  /** Where the hub listens on NATS. */
  readonly natsSubject?: string;
}

export interface ListedHub extends HubRecord {
  /** PTTL in ms; -1 when the entry has no TTL. */
  readonly ttlMs: number;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** Decodes a hub hash; undefined when malformed. */
export function parseHubRecord(hubId: string, hash: Record<string, string>): HubRecord | undefined {
  const started = hash[HUB_FIELDS.startedAt];
  const dtlsListen = hash[HUB_FIELDS.dtlsListen];
  if (started === undefined || !DECIMAL.test(started) || !dtlsListen) return undefined;
  const startedAt = Number(started);
  if (!Number.isSafeInteger(startedAt)) return undefined;
  const natsSubject = hash[HUB_FIELDS.natsSubject];
  return natsSubject ? { hubId, startedAt, dtlsListen, natsSubject } : { hubId, startedAt, dtlsListen };
}

/**
 * Live hubs `hopgate:hub:<hub_id>` (hash: started_at, dtls_listen[, nats_subject]) with a TTL:
 * a hub that stops refreshing disappears. Uses the caller's ioredis client.
 */
export class HubRegistry {
  /** `keys`: the key layout; default `new RedisKeys()` (prefix `hopgate:`). */
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys = new RedisKeys(),
  ) {}

  private readonly firstRegistered = new Map<string, number>();

  /**
   * Writes (or rewrites) the entry of `hubId` and sets its TTL; call it again every
   * `ttlMs / 3` to stay listed. `startedAt` defaults to the time of this registry's first
   * `register` call for that hub.
   */
  async register(hubId: string, info: HubInfo, ttlMs: number = DEFAULT_HUB_TTL_MS): Promise<void> {
    if (!hubId) throw new HopError(ErrorCode.Internal, 'hub registry: hubId is empty');
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new HopError(ErrorCode.Internal, `hub registry: bad TTL ${ttlMs}`);
    let startedAt = info.startedAt ?? this.firstRegistered.get(hubId);
    if (startedAt === undefined) {
      startedAt = Date.now();
      this.firstRegistered.set(hubId, startedAt);
    }
    const key = this.keys.hub(hubId);
    const fields: Record<string, string> = {
      [HUB_FIELDS.startedAt]: String(startedAt),
      [HUB_FIELDS.dtlsListen]: info.dtlsListen,
    };
    if (info.natsSubject) fields[HUB_FIELDS.natsSubject] = info.natsSubject;
    const results = await this.redis.multi().del(key).hset(key, fields).pexpire(key, ttlMs).exec();
    for (const [err] of results ?? []) if (err) throw err;
  }

  async unregister(hubId: string): Promise<void> {
    await this.redis.del(this.keys.hub(hubId));
  }

  async get(hubId: string): Promise<HubRecord | undefined> {
    return parseHubRecord(hubId, await this.redis.hgetall(this.keys.hub(hubId)));
  }

  /** Every well-formed entry, sorted by hub id. */
  async list(): Promise<ListedHub[]> {
    const keys = await scanAll(this.redis, this.keys.hubScanPattern);
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.hgetall(key).pttl(key);
    const results = (await pipeline.exec()) ?? [];
    const hubs: ListedHub[] = [];
    const prefix = this.keys.hub('');
    keys.forEach((key, i) => {
      const [err, hash] = results[2 * i] ?? [null, null];
      const [, ttl] = results[2 * i + 1] ?? [null, null];
      if (err || !hash || !key.startsWith(prefix)) return;
      const record = parseHubRecord(key.slice(prefix.length), hash as Record<string, string>);
      if (record) hubs.push({ ...record, ttlMs: typeof ttl === 'number' ? ttl : -1 });
    });
    return hubs;
  }
}
