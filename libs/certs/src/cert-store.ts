import { encodeCertUpdated as encodeWireCertUpdated, decodeCertUpdated as decodeWireCertUpdated, type CertUpdated } from '@hopgate/wire';
import type { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { CERT_STATUSES, certificateFacts, assertKeyMatches, renewalDueAt, type CertRecord, type CertStatus } from './cert-record.js';

/** SCAN batch size for listing certificates. */
const SCAN_COUNT = 200;

/** Field names of `hopgate:cert:<name>` (docs/redis.md). */
export const CertField = {
  chainPem: 'chain_pem',
  keyPem: 'key_pem',
  notBefore: 'not_before',
  notAfter: 'not_after',
  issuer: 'issuer',
  serial: 'serial',
  status: 'status',
  lastError: 'last_error',
  lastAttemptAt: 'last_attempt_at',
  renewAt: 'renew_at',
  updatedAt: 'updated_at',
} as const;

/** A record that could not be parsed: the reason, for a log line. */
export interface CertRecordProblem {
  readonly name: string;
  readonly reason: string;
}

export type CertRecordResult = { ok: true; record: CertRecord | undefined } | { ok: false; problem: CertRecordProblem };

function time(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const t = Date.parse(raw);
  return Number.isFinite(t) ? t : undefined;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Parses a `hopgate:cert:<name>` hash; an empty hash is "no record". Times are ISO 8601 in Redis. */
export function parseCertRecord(name: string, hash: Record<string, string>): CertRecordResult {
  if (Object.keys(hash).length === 0) return { ok: true, record: undefined };
  const status = hash[CertField.status] ?? 'valid';
  if (!(CERT_STATUSES as readonly string[]).includes(status)) {
    return { ok: false, problem: { name, reason: `unknown status ${JSON.stringify(status)} (one of ${CERT_STATUSES.join(', ')})` } };
  }
  const chainPem = hash[CertField.chainPem] || undefined;
  const keyPem = hash[CertField.keyPem] || undefined;
  if ((chainPem === undefined) !== (keyPem === undefined)) {
    return { ok: false, problem: { name, reason: `${CertField.chainPem} and ${CertField.keyPem} must be set together` } };
  }
  let notBefore = time(hash[CertField.notBefore]);
  let notAfter = time(hash[CertField.notAfter]);
  let issuer = hash[CertField.issuer] || undefined;
  let serial = hash[CertField.serial] || undefined;
  if (chainPem !== undefined && keyPem !== undefined) {
    // The PEM is the truth: an operator who HSETs only chain_pem/key_pem still gets correct dates.
    try {
      const facts = certificateFacts(chainPem);
      assertKeyMatches(chainPem, keyPem);
      notBefore = facts.notBefore;
      notAfter = facts.notAfter;
      issuer = facts.issuer;
      serial = facts.serial;
    } catch (err) {
      return { ok: false, problem: { name, reason: (err as Error).message } };
    }
  }
  return {
    ok: true,
    record: {
      name,
      status: status as CertStatus,
      chainPem,
      keyPem,
      notBefore,
      notAfter,
      issuer,
      serial,
      lastError: hash[CertField.lastError] || undefined,
      lastAttemptAt: time(hash[CertField.lastAttemptAt]),
      renewAt: time(hash[CertField.renewAt]),
      updatedAt: time(hash[CertField.updatedAt]),
    },
  };
}

/** Certificates and their status in Redis: `hopgate:cert:<name>` (docs/redis.md). */
export class CertStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys = new RedisKeys(),
  ) {}

  async get(name: string): Promise<CertRecordResult> {
    return parseCertRecord(name, await this.redis.hgetall(this.keys.cert(name)));
  }

  /** Stores an issued certificate (validated: parsable, key matches) and marks it `valid`; returns the record. */
  async putIssued(name: string, chainPem: string, keyPem: string, now: number = Date.now()): Promise<CertRecord> {
    const facts = certificateFacts(chainPem);
    assertKeyMatches(chainPem, keyPem);
    const renewAt = renewalDueAt(facts.notBefore, facts.notAfter);
    await this.redis
      .multi()
      .hset(this.keys.cert(name), {
        [CertField.chainPem]: chainPem,
        [CertField.keyPem]: keyPem,
        [CertField.notBefore]: iso(facts.notBefore),
        [CertField.notAfter]: iso(facts.notAfter),
        [CertField.issuer]: facts.issuer,
        [CertField.serial]: facts.serial,
        [CertField.status]: 'valid',
        [CertField.renewAt]: iso(renewAt),
        [CertField.updatedAt]: iso(now),
      })
      .hdel(this.keys.cert(name), CertField.lastError)
      .exec();
    const result = await this.get(name);
    if (!result.ok || !result.record) throw new Error(`certificate for ${name} vanished right after it was stored`);
    return result.record;
  }

  /** Sets `status` (and `last_error` when given, cleared otherwise) without touching a stored certificate. */
  async setStatus(name: string, status: CertStatus, lastError?: string, now: number = Date.now()): Promise<void> {
    const key = this.keys.cert(name);
    const fields: Record<string, string> = { [CertField.status]: status, [CertField.updatedAt]: iso(now) };
    if (status === 'issuing' || status === 'renewing') fields[CertField.lastAttemptAt] = iso(now);
    const tx = this.redis.multi();
    if (lastError !== undefined) fields[CertField.lastError] = lastError;
    else tx.hdel(key, CertField.lastError);
    await tx.hset(key, fields).exec();
  }

  /**
   * Marks a name `pending` only when it has no record yet (HSETNX), so a status written
   * meanwhile by an order that already started is never overwritten. True when it wrote.
   */
  async markPending(name: string, now: number = Date.now()): Promise<boolean> {
    const key = this.keys.cert(name);
    if ((await this.redis.hsetnx(key, CertField.status, 'pending')) !== 1) return false;
    await this.redis.hsetnx(key, CertField.updatedAt, iso(now));
    return true;
  }

  /**
   * Makes the renewal of `name` due now (`renew_at` in the past): the cert-manager orders a
   * new certificate at its next pass. False when the name has no record.
   */
  async forceRenewal(name: string): Promise<boolean> {
    const key = this.keys.cert(name);
    if ((await this.redis.exists(key)) === 0) return false;
    await this.redis.hset(key, CertField.renewAt, iso(0));
    return true;
  }

  /** Removes a name's record (its certificate too). */
  async delete(name: string): Promise<void> {
    await this.redis.del(this.keys.cert(name));
  }

  /** Every certificate name with a record (SCAN; no order). */
  async names(): Promise<string[]> {
    const names: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.keys.certScanPattern, 'COUNT', SCAN_COUNT);
      cursor = next;
      for (const key of keys) {
        const name = this.keys.nameOfCertKey(key);
        if (name !== undefined) names.push(name);
      }
    } while (cursor !== '0');
    return names;
  }

  /** Every record, sorted by name; malformed ones are returned as problems. */
  async list(): Promise<{ records: CertRecord[]; problems: CertRecordProblem[] }> {
    const records: CertRecord[] = [];
    const problems: CertRecordProblem[] = [];
    for (const name of (await this.names()).sort()) {
      const result = await this.get(name);
      if (!result.ok) problems.push(result.problem);
      else if (result.record) records.push(result.record);
    }
    return { records, problems };
  }
}

/** ACME challenge material in Redis, with a TTL, readable by every ingress replica. */
export class ChallengeStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys = new RedisKeys(),
  ) {}

  /** HTTP-01 (RFC 8555 §8.3): the key authorization served at /.well-known/acme-challenge/<token>. */
  async putHttp01(token: string, keyAuthorization: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.acmeHttp01(token), keyAuthorization, 'PX', ttlMs);
  }

  async getHttp01(token: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.acmeHttp01(token))) ?? undefined;
  }

  async deleteHttp01(token: string): Promise<void> {
    await this.redis.del(this.keys.acmeHttp01(token));
  }

  /** TLS-ALPN-01 (RFC 8737 §3): the self-signed certificate with the acmeIdentifier extension for `name`. */
  async putTlsAlpn01(name: string, certPem: string, keyPem: string, ttlMs: number): Promise<void> {
    const key = this.keys.acmeTlsAlpn01(name);
    await this.redis.multi().hset(key, { cert_pem: certPem, key_pem: keyPem }).pexpire(key, ttlMs).exec();
  }

  async getTlsAlpn01(name: string): Promise<{ certPem: string; keyPem: string } | undefined> {
    const hash = await this.redis.hgetall(this.keys.acmeTlsAlpn01(name));
    if (!hash.cert_pem || !hash.key_pem) return undefined;
    return { certPem: hash.cert_pem, keyPem: hash.key_pem };
  }

  async deleteTlsAlpn01(name: string): Promise<void> {
    await this.redis.del(this.keys.acmeTlsAlpn01(name));
  }
}

/** A `hopgate.cert.updated` broadcast (docs/nats.md); the message type lives in @hopgate/wire. */
export type CertUpdatedMessage = CertUpdated;

export function encodeCertUpdated(record: CertRecord): Uint8Array {
  return encodeWireCertUpdated({ name: record.name, not_after: record.notAfter !== undefined ? iso(record.notAfter) : '', serial: record.serial ?? '' });
}

/** The name in a `hopgate.cert.updated` message, or undefined when malformed. */
export const decodeCertUpdated = decodeWireCertUpdated;
