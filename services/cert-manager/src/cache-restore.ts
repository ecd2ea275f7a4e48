import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs/promises';
import { parseChain, type CertRecord, type CertStore } from '@hopgate/certs';
import { errorMessageOf } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import { cachePaths, mirrorAccountKeyPaths } from './cache-mirror.js';

/** A certificate found in the cache folder that may be put back into Redis. */
export interface CachedCertificate {
  readonly chainPem: string;
  readonly keyPem: string;
  readonly serial: string;
  readonly notAfter: number;
}

/** Why a cached certificate was not taken (for the log line); `missing` is silent. */
export type CacheMiss = { readonly reason: 'missing' } | { readonly reason: 'unusable'; readonly detail: string };

/**
 * The certificate of `name` in `<dir>/<name>/` (fullchain.pem, privkey.pem, as mirrorToCache
 * wrote them) when it can be served as it is: it parses, its leaf names `name`
 * (RFC 6125 §6.4), the key is the leaf's, and it has not expired at `now`. Whether it is due
 * for renewal is the caller's business.
 */
export async function readCachedCertificate(dir: string, name: string, now: number = Date.now()): Promise<CachedCertificate | CacheMiss> {
  const paths = cachePaths(dir, name);
  let chainPem: string;
  let keyPem: string;
  try {
    [chainPem, keyPem] = await Promise.all([fs.readFile(paths.fullchain, 'utf8'), fs.readFile(paths.privkey, 'utf8')]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { reason: 'missing' };
    return { reason: 'unusable', detail: `cannot read ${paths.folder}: ${errorMessageOf(err)}` };
  }
  try {
    const leaf: X509Certificate | undefined = parseChain(chainPem)[0];
    if (!leaf) return { reason: 'unusable', detail: 'no certificate in fullchain.pem' };
    if (leaf.checkHost(name) === undefined) return { reason: 'unusable', detail: `the certificate does not name ${name}` };
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) return { reason: 'unusable', detail: 'privkey.pem is not the key of the certificate' };
    const notAfter = Date.parse(leaf.validTo);
    if (!(notAfter > now)) return { reason: 'unusable', detail: `expired on ${new Date(notAfter).toISOString()}` };
    return { chainPem, keyPem, serial: leaf.serialNumber.toLowerCase(), notAfter };
  } catch (err) {
    return { reason: 'unusable', detail: errorMessageOf(err) };
  }
}

/** The ACME account key cached for `directoryUrl` (see mirrorAccountKey), or undefined. */
export async function readCachedAccountKey(dir: string, directoryUrl: string): Promise<string | undefined> {
  const paths = mirrorAccountKeyPaths(dir);
  try {
    const [directory, keyPem] = await Promise.all([fs.readFile(paths.directory, 'utf8'), fs.readFile(paths.key, 'utf8')]);
    if (directory.trim() !== directoryUrl) return undefined;
    createPrivateKey(keyPem); // throws on a damaged file: a new account then
    return keyPem;
  } catch {
    return undefined;
  }
}

export interface CacheRestoreDeps {
  /** HOPGATE_ACME_CACHE_DIR. */
  readonly dir: string;
  readonly certs: CertStore;
  /** Announces a restored certificate (`hopgate.cert.updated`), as after an issuance. */
  readonly announce: (record: CertRecord) => void;
  readonly logger: Logger;
}

/**
 * Puts certificates back into Redis from the cache folder (a Redis restarted empty, a record
 * deleted by hand) instead of ordering them again: CAs rate-limit duplicate certificates
 * (Let's Encrypt: 5 per week for the same names).
 */
export class CacheRestore {
  private readonly log: Logger;
  /** Unusable cache entries already logged (name + detail): once per process, not per pass. */
  private readonly logged = new Set<string>();

  constructor(private readonly deps: CacheRestoreDeps) {
    this.log = deps.logger.child({ component: 'cache-restore' });
  }

  /** The record stored from the cached certificate of `name`, or undefined when there is none to take. */
  async restore(name: string, now: number = Date.now()): Promise<CertRecord | undefined> {
    const cached = await readCachedCertificate(this.deps.dir, name, now);
    if (!('chainPem' in cached)) {
      if (cached.reason === 'unusable' && !this.logged.has(`${name}\u0000${cached.detail}`)) {
        this.logged.add(`${name}\u0000${cached.detail}`);
        this.log.warn({ cert_name: name, dir: this.deps.dir, reason: cached.detail }, 'cached certificate not restored: a new one will be ordered');
      }
      return undefined;
    }
    const record = await this.deps.certs.putIssued(name, cached.chainPem, cached.keyPem, now);
    this.log.info({ cert_name: name, serial: record.serial, not_after: new Date(cached.notAfter).toISOString(), dir: this.deps.dir }, 'certificate restored from the cache folder (no new order)');
    this.deps.announce(record);
    return record;
  }
}
