import type { Redis } from 'ioredis';
import { HopError, ErrorCode } from '@hopgate/errors';
import { RedisKeys } from '@hopgate/keys';
import { scanAll } from './scan.js';
import { parseSessionRecord, type SessionRecord } from './session-record.js';
import type { SessionClaim } from './session-store.js';
import { CLAIM_INSTANCE_SCRIPT, REFRESH_INSTANCE_SCRIPT, RELEASE_INSTANCE_SCRIPT, LOOKUP_INSTANCES_SCRIPT } from './instance-scripts.js';

/** One live agent instance of a client, as the ingress routes to it. */
export interface LiveInstance {
  /** '' for a session recorded by a hub from before replicas (client-wide record only). */
  readonly instanceId: string;
  readonly hubId: string;
  readonly epoch: number;
}

/** An instance record as listed (`hopgate session ls`). */
export interface ListedInstance extends SessionRecord {
  readonly instanceId: string;
  /** PTTL in ms; -1 when the record has no TTL (written by hand). */
  readonly ttlMs: number;
}

const DECIMAL_POSITIVE = /^[1-9][0-9]*$/;

/**
 * Per-instance session records of agent replicas: `hopgate:instance:<client_id>:<instance_id>`
 * (hash: hub, epoch, connected_at, remote; TTL refreshed by the owning hub), the index
 * `hopgate:instances:<client_id>` (set of instance ids), and the client-wide
 * `hopgate:session:<client_id>` kept for tools (the most recently claimed instance).
 * Each write is fenced by the instance record's (hub, epoch): a newer epoch for the same
 * instance id wins, other instance ids coexist. Epochs come from SessionStore.nextEpoch().
 */
export class InstanceStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys = new RedisKeys(),
  ) {}

  private keysOf(clientId: string, instanceId: string): string[] {
    return [this.keys.instance(clientId, instanceId), this.keys.instances(clientId), this.keys.session(clientId)];
  }

  /** Takes the instance's session unless Redis holds a newer epoch for it (or the same epoch for another hub). */
  async claim(clientId: string, instanceId: string, claim: SessionClaim, ttlMs: number): Promise<boolean> {
    checkEpoch(claim.epoch);
    checkTtl(ttlMs);
    if (!claim.hubId) throw new HopError(ErrorCode.Internal, 'instance claim: hubId is empty');
    const result = await CLAIM_INSTANCE_SCRIPT.run(this.redis, [...this.keysOf(clientId, instanceId), this.keys.sessionEpochCounter], [
      claim.hubId,
      String(claim.epoch),
      String(claim.connectedAt),
      claim.remote,
      String(ttlMs),
      instanceId,
      this.keys.instancePrefix(clientId),
    ]);
    return result === 1;
  }

  /** Extends the TTLs while the instance record names (`hubId`, `epoch`). False: replaced or expired. */
  async refresh(clientId: string, instanceId: string, hubId: string, epoch: number, ttlMs: number): Promise<boolean> {
    checkEpoch(epoch);
    checkTtl(ttlMs);
    const result = await REFRESH_INSTANCE_SCRIPT.run(this.redis, this.keysOf(clientId, instanceId), [hubId, String(epoch), String(ttlMs), instanceId]);
    return result === 1;
  }

  /** Deletes the instance record only while it names (`hubId`, `epoch`). True when deleted. */
  async release(clientId: string, instanceId: string, hubId: string, epoch: number): Promise<boolean> {
    checkEpoch(epoch);
    const result = await RELEASE_INSTANCE_SCRIPT.run(this.redis, this.keysOf(clientId, instanceId), [hubId, String(epoch), instanceId]);
    return result === 1;
  }

  /** One instance record, or undefined when there is none or it is malformed. */
  async getInstance(clientId: string, instanceId: string): Promise<SessionRecord | undefined> {
    return parseSessionRecord(clientId, await this.redis.hgetall(this.keys.instance(clientId, instanceId)));
  }

  /** The live instances of `clientId` in one round trip (empty: offline). The OwnerCache source. */
  async get(clientId: string): Promise<LiveInstance[]> {
    const reply = await LOOKUP_INSTANCES_SCRIPT.run(this.redis, [this.keys.instances(clientId), this.keys.session(clientId)], [this.keys.instancePrefix(clientId)]);
    const flat = Array.isArray(reply) ? (reply as unknown[]) : [];
    const live: LiveInstance[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const [instanceId, hubId, epochText] = [flat[i], flat[i + 1], flat[i + 2]];
      if (typeof instanceId !== 'string' || typeof hubId !== 'string' || hubId === '' || typeof epochText !== 'string' || !DECIMAL_POSITIVE.test(epochText)) continue;
      live.push({ instanceId, hubId, epoch: Number(epochText) });
    }
    return live;
  }

  /** Every well-formed instance record of every client, sorted by client id then instance id. */
  async list(): Promise<ListedInstance[]> {
    const indexes = await scanAll(this.redis, this.keys.instancesScanPattern);
    const pairs: Array<[string, string]> = [];
    if (indexes.length > 0) {
      const members = (await this.redis.pipeline(indexes.map((key) => ['smembers', key])).exec()) ?? [];
      indexes.forEach((key, i) => {
        const clientId = this.keys.clientIdOfInstancesKey(key);
        const [err, ids] = members[i] ?? [null, null];
        if (clientId === undefined || err || !Array.isArray(ids)) return;
        for (const id of ids as string[]) pairs.push([clientId, id]);
      });
    }
    if (pairs.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const [clientId, id] of pairs) pipeline.hgetall(this.keys.instance(clientId, id)).pttl(this.keys.instance(clientId, id));
    const results = (await pipeline.exec()) ?? [];
    const listed: ListedInstance[] = [];
    pairs.forEach(([clientId, instanceId], i) => {
      const [hashErr, hash] = results[2 * i] ?? [null, null];
      const [, ttl] = results[2 * i + 1] ?? [null, null];
      if (hashErr || !hash) return;
      const record = parseSessionRecord(clientId, hash as Record<string, string>);
      if (record) listed.push({ ...record, instanceId, ttlMs: typeof ttl === 'number' ? ttl : -1 });
    });
    return listed.sort((a, b) => (a.clientId === b.clientId ? a.instanceId.localeCompare(b.instanceId) : a.clientId.localeCompare(b.clientId)));
  }
}

function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 1) throw new HopError(ErrorCode.Internal, `session epoch must be a positive integer, got ${epoch}`);
}

function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new HopError(ErrorCode.Internal, `session TTL must be a positive integer of ms, got ${ttlMs}`);
}
