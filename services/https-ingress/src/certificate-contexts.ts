import crypto from 'node:crypto';
import tls from 'node:tls';
import type { Redis } from 'ioredis';
import type { Logger } from '@hopgate/log';
import type { RedisKeys } from '@hopgate/keys';
import { CertField, parseCertRecord } from '@hopgate/certs';
import { errorMessageOf } from '@hopgate/errors';

/** A name without a usable certificate in Redis is asked again after this many ms, so a new certificate is found even without its broadcast. */
export const NEGATIVE_CERT_CACHE_TTL_MS = 5_000;
/** Most certificate names (with or without a certificate) cached at once; the least recently used goes first. */
export const MAX_CACHED_CERT_NAMES = 10_000;
/** The same complaint about one name (no certificate, bad record, Redis down) is logged at most once per this many ms. */
export const CERT_LOG_INTERVAL_MS = 60_000;
/** Most names whose last complaint time is remembered; above it the memory starts over. */
const MAX_LOG_MEMORY_NAMES = 10_000;
/** Longest DNS name, in characters (RFC 1035 §2.3.4). */
const MAX_DNS_NAME_CHARS = 253;
/** What a server name may be made of here: DNS labels (plus `_`, seen in the wild), lower case. */
const SERVER_NAME_PATTERN = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/**
 * SHA-1 of `chain_pem` + "\n" + `key_pem` of a certificate record, computed inside Redis
 * ('' when there is no chain): the periodic re-read compares it with what is served, so a
 * certificate replaced by hand (HSET) is noticed too, without moving PEMs over the wire.
 * Run with EVAL_RO (Redis 7): a read-only script, so an ingress whose ACL user may only read
 * `hopgate:cert:*` (`%R~`) may run it; EVAL counts its keys as written (docs/redis.md, ACL).
 * The script text is sent each time (about 150 bytes per cached certificate per re-read);
 * Redis keeps it compiled.
 */
const FINGERPRINT_SCRIPT = `
local v = redis.call('HMGET', KEYS[1], ARGV[1], ARGV[2])
if not v[1] then return '' end
return redis.sha1hex(v[1] .. '\\n' .. (v[2] or ''))
`;


function fingerprintOf(chainPem: string | undefined, keyPem: string | undefined): string {
  if (!chainPem) return '';
  return crypto.createHash('sha1').update(`${chainPem}\n${keyPem ?? ''}`, 'utf8').digest('hex');
}

/** A certificate record served from Redis. */
interface CertEntry {
  readonly kind: 'cert';
  readonly context: tls.SecureContext;
  readonly serial: string;
  readonly notAfter: number;
  readonly fingerprint: string;
}

/** No usable certificate (none, unreadable, expired, or Redis unreachable), until `until`. */
interface NoCertEntry {
  readonly kind: 'none';
  readonly until: number;
}

type Entry = CertEntry | NoCertEntry;

/** Where a handshake's certificate comes from. */
export type CertificateSource = 'exact' | 'wildcard' | 'default';

export interface SelectedCertificate {
  readonly context: tls.SecureContext;
  readonly source: CertificateSource;
  /** The record name (`*.example.com` for a wildcard), or undefined for the default. */
  readonly recordName: string | undefined;
}

export interface CertificateContextsOptions {
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  /** The file certificate (HOPGATE_TLS_CERT_FILE/KEY_FILE), served when Redis has none for a name. */
  defaultContext: tls.SecureContext | undefined;
  /** Period of the re-read of cached certificates, in ms (HOPGATE_CERT_REREAD_INTERVAL_MS). */
  rereadIntervalMs: number;
  /** Default NEGATIVE_CERT_CACHE_TTL_MS. */
  negativeTtlMs?: number;
  /** Default MAX_CACHED_CERT_NAMES. */
  maxEntries?: number;
}

/**
 * The certificate for a server name (RFC 6066 §3), from `hopgate:cert:<name>` in Redis:
 * the exact name's record, else the wildcard `*.<parent>` record (RFC 6125 §6.4.3: one label),
 * else the default (file) certificate, else none. Built `tls.SecureContext`s are cached until
 * `hopgate.cert.updated` names them (`invalidate`) or the periodic re-read sees their record
 * change; names without a certificate are asked again after `negativeTtlMs`. Concurrent
 * handshakes for one name share one Redis read.
 */
export class CertificateContexts {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  private readonly complaints = new Map<string, number>();
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly log: Logger;
  private readonly redis: Redis;
  private timer: NodeJS.Timeout | undefined;
  private rereading = false;
  /**
   * The last read of a record failed (Redis down or hung); cleared by the next that succeeds.
   * Meanwhile a name not in memory is answered "none" at once (the default certificate, else
   * the alert) while its read runs behind the handshake: a hung Redis holds no handshake for
   * its command timeout, let alone twice (exact name, then wildcard).
   */
  private redisFailing = false;

  constructor(private readonly options: CertificateContextsOptions) {
    this.negativeTtlMs = options.negativeTtlMs ?? NEGATIVE_CERT_CACHE_TTL_MS;
    this.maxEntries = options.maxEntries ?? MAX_CACHED_CERT_NAMES;
    this.log = options.logger.child({ component: 'certificates' });
    this.redis = options.redis;
  }

  /** True when a file certificate backs names that Redis has none for. */
  get hasDefault(): boolean {
    return this.options.defaultContext !== undefined;
  }


  /** The certificates loaded from Redis now, with their notAfter (for hopgate_certificate_expiry_timestamp_seconds). */
  *loaded(): IterableIterator<{ name: string; notAfterMs: number }> {
    for (const [name, entry] of this.entries) if (entry.kind === 'cert') yield { name, notAfterMs: entry.notAfter };
  }
  start(): void {
    this.timer = setInterval(() => void this.reread(), this.options.rereadIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Names currently cached with a certificate (for tests and metrics). */
  get cachedCertificateCount(): number {
    let n = 0;
    for (const entry of this.entries.values()) if (entry.kind === 'cert') n += 1;
    return n;
  }

  /** The certificate to present for `serverName` (undefined: the client sent no SNI), or undefined when there is none. */
  async select(serverName: string | undefined, now: number = Date.now()): Promise<SelectedCertificate | undefined> {
    const name = serverName === undefined ? undefined : normalizeServerName(serverName);
    if (name !== undefined) {
      const exact = await this.lookup(name);
      if (this.servable(name, exact, now)) return { context: exact.context, source: 'exact', recordName: name };
      const wildcard = wildcardOf(name);
      if (wildcard !== undefined) {
        const entry = await this.lookup(wildcard);
        if (this.servable(wildcard, entry, now)) return { context: entry.context, source: 'wildcard', recordName: wildcard };
      }
    }
    const fallback = this.options.defaultContext;
    return fallback ? { context: fallback, source: 'default', recordName: undefined } : undefined;
  }

  /** `hopgate.cert.updated` named `name`: the next handshake for it waits for a fresh read. */
  invalidate(name: string): void {
    const key = normalizeServerName(name) ?? (name.startsWith('*.') ? `*.${normalizeServerName(name.slice(2)) ?? ''}` : undefined);
    if (key === undefined) return;
    const entry = this.entries.get(key);
    if (entry?.kind === 'none') this.entries.delete(key);
    else if (entry?.kind === 'cert' || this.inflight.has(key)) this.reloadInBackground(key);
  }

  /** Logs "no certificate" for a refused handshake, at most once per CERT_LOG_INTERVAL_MS and name. */
  complainMissing(serverName: string | undefined, alert: string): void {
    const label = serverName ?? '(no SNI)';
    if (!this.mayComplain(`missing:${label}`)) return;
    this.log.warn({ server_name: label, alert }, `tls: no certificate for ${label} (not in Redis, no default file certificate): handshake refused`);
  }

  private servable(name: string, entry: Entry, now: number): entry is CertEntry {
    if (entry.kind !== 'cert') return false;
    if (entry.notAfter > now) return true;
    if (this.mayComplain(`expired:${name}:${entry.serial}`)) {
      this.log.warn({ server_name: name, serial: entry.serial, not_after: new Date(entry.notAfter).toISOString() }, 'tls: stored certificate expired: not served (falling back)');
    }
    return false;
  }

  private lookup(name: string): Promise<Entry> | Entry {
    const pending = this.inflight.get(name);
    if (this.redisFailing && this.entries.get(name)?.kind !== 'cert') {
      if (!pending) this.reloadInBackground(name);
      const known = this.entries.get(name);
      return known?.kind === 'none' ? known : this.noCert();
    }
    if (pending) return pending;
    const entry = this.entries.get(name);
    if (entry?.kind === 'cert') {
      // Least recently used goes first: move to the end.
      this.entries.delete(name);
      this.entries.set(name, entry);
      return entry;
    }
    if (entry?.kind === 'none' && entry.until > Date.now()) return entry;
    return this.reload(name);
  }

  /** reload() that nobody awaits (a broadcast, the re-read): a failure is logged, never left unhandled. */
  private reloadInBackground(name: string): void {
    this.reload(name).catch((err: unknown) => this.log.warn({ server_name: name, err: errorMessageOf(err) }, 'tls: certificate reload failed: serving what is cached'));
  }

  /** Starts a read of `name` after any read in progress; lookups meanwhile wait for it. */
  private reload(name: string): Promise<Entry> {
    const previous = this.inflight.get(name);
    const read: Promise<Entry> = (previous ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.load(name))
      .finally(() => {
        if (this.inflight.get(name) === read) this.inflight.delete(name);
      });
    this.inflight.set(name, read);
    return read;
  }

  private async load(name: string): Promise<Entry> {
    const previous = this.entries.get(name);
    let hash: Record<string, string>;
    try {
      hash = await this.options.redis.hgetall(this.options.keys.cert(name));
      this.redisFailing = false;
    } catch (err) {
      this.redisFailing = true;
      if (this.mayComplain(`redis:${name}`)) {
        this.log.warn({ server_name: name, err: errorMessageOf(err), cached: previous?.kind === 'cert' }, 'tls: certificate lookup in redis failed: serving what is cached, else the default');
      }
      if (previous?.kind === 'cert') return previous;
      return this.store(name, this.noCert());
    }
    const result = parseCertRecord(name, hash);
    if (!result.ok) {
      if (this.mayComplain(`bad:${name}:${result.problem.reason}`)) {
        this.log.warn({ server_name: name, reason: result.problem.reason }, 'tls: certificate record unusable: not served (falling back)');
      }
      return this.store(name, this.noCert());
    }
    const record = result.record;
    if (!record?.chainPem || !record.keyPem || record.notAfter === undefined) return this.store(name, this.noCert());
    let context: tls.SecureContext;
    try {
      context = tls.createSecureContext({ cert: record.chainPem, key: record.keyPem });
    } catch (err) {
      if (this.mayComplain(`bad:${name}:tls`)) {
        this.log.warn({ server_name: name, reason: errorMessageOf(err) }, 'tls: certificate record refused by TLS: not served (falling back)');
      }
      return this.store(name, this.noCert());
    }
    const serial = record.serial ?? '';
    if (previous?.kind !== 'cert' || previous.serial !== serial) {
      this.log.info({ server_name: name, serial, not_after: new Date(record.notAfter).toISOString() }, 'tls: certificate loaded');
    }
    return this.store(name, { kind: 'cert', context, serial, notAfter: record.notAfter, fingerprint: fingerprintOf(record.chainPem, record.keyPem) });
  }

  private noCert(): NoCertEntry {
    return { kind: 'none', until: Date.now() + this.negativeTtlMs };
  }

  private store(name: string, entry: Entry): Entry {
    this.entries.delete(name);
    this.entries.set(name, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return entry;
  }

  /** Compares each cached certificate with its record in Redis; reloads those that changed. */
  private async reread(): Promise<void> {
    if (this.rereading) return;
    this.rereading = true;
    try {
      const cached = [...this.entries].filter((pair): pair is [string, CertEntry] => pair[1].kind === 'cert');
      if (cached.length === 0) return;
      const pipeline = this.redis.pipeline();
      for (const [name] of cached) {
        pipeline.call('EVAL_RO', FINGERPRINT_SCRIPT, 1, this.options.keys.cert(name), CertField.chainPem, CertField.keyPem);
      }
      const results = (await pipeline.exec()) ?? [];
      let failure: Error | undefined;
      cached.forEach(([name, entry], i) => {
        const [err, fingerprint] = results[i] ?? [new Error('no reply'), undefined];
        if (err) failure = err;
        else if (fingerprint !== entry.fingerprint && this.entries.get(name) === entry) this.reloadInBackground(name);
      });
      if (failure) throw failure;
      this.redisFailing = false;
    } catch (err) {
      if (this.mayComplain('reread')) this.log.warn({ err: errorMessageOf(err) }, 'tls: periodic certificate re-read failed: keeping what is cached');
    } finally {
      this.rereading = false;
    }
  }

  private mayComplain(what: string): boolean {
    const now = Date.now();
    const last = this.complaints.get(what);
    if (last !== undefined && now - last < CERT_LOG_INTERVAL_MS) return false;
    if (this.complaints.size >= MAX_LOG_MEMORY_NAMES) this.complaints.clear();
    this.complaints.set(what, now);
    return true;
  }
}

/** Lower case, without a trailing dot; undefined when it cannot be a DNS name (never asked in Redis). */
export function normalizeServerName(raw: string): string | undefined {
  const name = raw.toLowerCase().replace(/\.$/, '');
  if (name.length === 0 || name.length > MAX_DNS_NAME_CHARS || !SERVER_NAME_PATTERN.test(name)) return undefined;
  return name;
}

/** `*.example.com` for `a.example.com` (RFC 6125 §6.4.3: the wildcard covers one label); undefined for a name of fewer than three labels. */
export function wildcardOf(name: string): string | undefined {
  const dot = name.indexOf('.');
  if (dot < 0) return undefined;
  const parent = name.slice(dot + 1);
  return parent.includes('.') ? `*.${parent}` : undefined;
}
