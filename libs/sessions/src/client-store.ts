import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ID_PATTERN } from '@hopgate/config';
import { HopError, ErrorCode } from '@hopgate/errors';
import { RedisKeys } from '@hopgate/keys';
import { scanAll } from './scan.js';

/** Random bytes in a new agent token (printed base64url: 43 characters). */
export const CLIENT_TOKEN_BYTES = 32;
/** The one field of a client hash: lower-case hex SHA-256 of the token. */
export const TOKEN_SHA256_FIELD = 'token_sha256';

export type VerifyResult = 'ok' | 'unknown_client' | 'bad_token';

/** The outcome of a credentials check; on success, the stored hash the token matched. */
export type CredentialsCheck = { result: 'ok'; tokenSha256: string } | { result: 'unknown_client' | 'bad_token' };

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** Hex SHA-256 of a token: what `printf %s "$TOKEN" | sha256sum` prints. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Registered clients `hopgate:client:<client_id>` (hash: `token_sha256`). Only the token's
 * hash is stored; the token itself is shown once by `add`. Uses the caller's ioredis client.
 */
export class ClientStore {
  /** `keys`: the key layout; default `new RedisKeys()` (prefix `hopgate:`). */
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys = new RedisKeys(),
  ) {}

  /**
   * Registers `clientId` with a new random token and returns the token (its only copy).
   * Refuses an existing client (HopError ERR_BAD_CONFIG) unless `replace` (token rotation).
   */
  async add(clientId: string, options: { replace?: boolean } = {}): Promise<string> {
    if (!ID_PATTERN.test(clientId)) {
      throw new HopError(ErrorCode.BadConfig, `client id ${JSON.stringify(clientId)} must match ${ID_PATTERN}`);
    }
    const token = randomBytes(CLIENT_TOKEN_BYTES).toString('base64url');
    const key = this.keys.client(clientId);
    if (options.replace) {
      await this.redis.hset(key, TOKEN_SHA256_FIELD, hashToken(token));
      return token;
    }
    const created = await this.redis.hsetnx(key, TOKEN_SHA256_FIELD, hashToken(token));
    if (created !== 1) {
      throw new HopError(ErrorCode.BadConfig, `client ${clientId} already exists (remove it first, or replace its token)`);
    }
    return token;
  }

  /**
   * Deletes the client and its session records (client-wide, per instance, and the index). The
   * hubs holding its sessions end them (credentials check: client removed). True when the client existed.
   */
  async remove(clientId: string): Promise<boolean> {
    const instanceIds = await this.redis.smembers(this.keys.instances(clientId));
    const multi = this.redis.multi().del(this.keys.client(clientId)).del(this.keys.session(clientId)).del(this.keys.instances(clientId));
    for (const id of instanceIds) multi.del(this.keys.instance(clientId, id));
    const results = await multi.exec();
    for (const [err] of results ?? []) if (err) throw err;
    const removed = results?.[0]?.[1];
    return removed === 1;
  }

  /** Registered client ids, sorted. */
  async list(): Promise<string[]> {
    const keys = await scanAll(this.redis, this.keys.clientScanPattern);
    return keys.map((k) => this.keys.clientIdOfKey(k)).filter((id): id is string => id !== undefined);
  }

  /** Whether the client is registered (has a token hash). */
  async exists(clientId: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.client(clientId), TOKEN_SHA256_FIELD)) === 1;
  }

  /** Checks an agent's credentials; the hash comparison is constant-time. */
  async verify(clientId: string, token: string): Promise<VerifyResult> {
    return (await this.check(clientId, token)).result;
  }

  /**
   * Checks an agent's credentials (constant-time hash comparison) and, when they match, returns
   * the stored hash (lower case): a session remembers it to notice a token replaced later.
   */
  async check(clientId: string, token: string): Promise<CredentialsCheck> {
    if (!ID_PATTERN.test(clientId)) return { result: 'unknown_client' };
    const stored = await this.redis.hget(this.keys.client(clientId), TOKEN_SHA256_FIELD);
    if (stored === null) return { result: 'unknown_client' };
    const presented = createHash('sha256').update(token, 'utf8').digest();
    if (!SHA256_HEX.test(stored)) return { result: 'bad_token' }; // malformed record: no token can match it
    if (!timingSafeEqual(Buffer.from(stored, 'hex'), presented)) return { result: 'bad_token' };
    return { result: 'ok', tokenSha256: stored.toLowerCase() };
  }

  /**
   * The client's current `token_sha256` in lower case; undefined when the client is gone or its
   * hash is malformed (no token can match it then).
   */
  async tokenHash(clientId: string): Promise<string | undefined> {
    const stored = await this.redis.hget(this.keys.client(clientId), TOKEN_SHA256_FIELD);
    return stored !== null && SHA256_HEX.test(stored) ? stored.toLowerCase() : undefined;
  }
}
