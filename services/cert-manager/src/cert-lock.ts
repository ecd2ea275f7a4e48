import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '@hopgate/keys';

/**
 * Lifetime of a certificate lock, in ms. The holder extends it every third of this while
 * its order runs; a replica killed mid-order frees the name after at most this long.
 * Equal to BullMQ's default job lock (30 s), after which a stalled job is retried.
 */
export const CERT_LOCK_TTL_MS = 30_000;

/** Deletes the lock only while it still names this owner (compare-and-delete). */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** Extends the lock only while it still names this owner. */
const EXTEND_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/** A held lock: extended in the background until released. */
export interface HeldCertLock {
  readonly owner: string;
  /** False once an extension found the lock gone or taken (the order should not be trusted to be alone). */
  readonly held: boolean;
  release(): Promise<void>;
}

/**
 * `hopgate:cert-lock:<name>`: at most one ACME order per name across every cert-manager
 * replica (SET NX PX with an owner id; extended while the order runs; released with a
 * compare-and-delete script).
 */
export class CertLock {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly replicaId: string,
    private readonly ttlMs: number = CERT_LOCK_TTL_MS,
  ) {}

  /** Takes the lock for `name`, or returns undefined when another owner holds it. */
  async acquire(name: string, onLost: (owner: string) => void = () => undefined): Promise<HeldCertLock | undefined> {
    const key = this.keys.certLock(name);
    const owner = `${this.replicaId}/${crypto.randomBytes(6).toString('hex')}`;
    const ok = await this.redis.set(key, owner, 'PX', this.ttlMs, 'NX');
    if (ok !== 'OK') return undefined;
    let held = true;
    let released = false;
    const timer = setInterval(() => {
      void this.redis
        .eval(EXTEND_LUA, 1, key, owner, this.ttlMs)
        .then((extended) => {
          if (extended !== 1 && held && !released) {
            held = false;
            onLost(owner);
          }
        })
        .catch(() => undefined); // Redis away: the next tick tries again, before the TTL runs out.
    }, Math.floor(this.ttlMs / 3));
    timer.unref();
    return {
      owner,
      get held() {
        return held;
      },
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await this.redis.eval(RELEASE_LUA, 1, key, owner);
      },
    };
  }

  /** The current owner of `name`'s lock, if any (for logs and tests). */
  async owner(name: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.certLock(name))) ?? undefined;
  }
}
