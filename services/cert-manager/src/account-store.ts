import type { Redis } from 'ioredis';
import type { RedisKeys } from '@hopgate/keys';

/** Fields of the `hopgate:acme:account` hash (docs/redis.md). */
export const AccountField = {
  keyPem: 'key_pem',
  url: 'url',
  directory: 'directory',
  email: 'email',
} as const;

/** The cluster's ACME account: one key per ACME directory, shared by every replica. */
export interface AcmeAccount {
  readonly keyPem: string;
  /** The account URL (RFC 8555 §7.3), once registered. */
  readonly url: string | undefined;
}

/**
 * Puts `key_pem` (ARGV[2]), `directory` (ARGV[1]) and `email` (ARGV[3]) in the account hash
 * unless it already holds an account for this very directory; a hash for another
 * directory is replaced (a new CA needs a new registration). Atomic, so replicas that
 * start together end with one key. Returns 1 when it wrote.
 */
const ENSURE_ACCOUNT_LUA = `
if redis.call('HGET', KEYS[1], '${AccountField.directory}') == ARGV[1] and redis.call('HEXISTS', KEYS[1], '${AccountField.keyPem}') == 1 then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '${AccountField.keyPem}', ARGV[2], '${AccountField.directory}', ARGV[1], '${AccountField.email}', ARGV[3])
return 1`;

/** Stores the account URL only while the hash still belongs to this directory and key. */
const SET_URL_LUA = `
if redis.call('HGET', KEYS[1], '${AccountField.directory}') == ARGV[1] and redis.call('HGET', KEYS[1], '${AccountField.keyPem}') == ARGV[2] then
  redis.call('HSET', KEYS[1], '${AccountField.url}', ARGV[3])
  return 1
end
return 0`;

/** The ACME account in Redis (`hopgate:acme:account`), created once cluster-wide. */
export class AccountStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /**
   * The account for `directory`: the stored one, or a new one made from `newKeyPem()` when
   * none is stored or the stored one belongs to another directory. The key is generated
   * before the atomic write; a replica that loses the race discards its own.
   */
  async ensure(directory: string, email: string | undefined, newKeyPem: () => Promise<string>): Promise<{ account: AcmeAccount; created: boolean }> {
    const current = await this.read(directory);
    if (current) return { account: current, created: false };
    const keyPem = await newKeyPem();
    const wrote = (await this.redis.eval(ENSURE_ACCOUNT_LUA, 1, this.keys.acmeAccount, directory, keyPem, email ?? '')) === 1;
    const account = await this.read(directory);
    if (!account) throw new Error('the ACME account vanished from Redis right after it was stored');
    return { account, created: wrote };
  }

  /** The stored account when it belongs to `directory`. */
  async read(directory: string): Promise<AcmeAccount | undefined> {
    const hash = await this.redis.hgetall(this.keys.acmeAccount);
    const keyPem = hash[AccountField.keyPem];
    if (hash[AccountField.directory] !== directory || !keyPem) return undefined;
    return { keyPem, url: hash[AccountField.url] || undefined };
  }

  /** Records the account URL the ACME server returned for this key; false when the account changed meanwhile. */
  async setUrl(directory: string, keyPem: string, url: string): Promise<boolean> {
    return (await this.redis.eval(SET_URL_LUA, 1, this.keys.acmeAccount, directory, keyPem, url)) === 1;
  }
}
