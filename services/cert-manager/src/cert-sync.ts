import { isServable, type CertRecord, type CertStore } from '@hopgate/certs';
import { errorMessageOf } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import type { WantedNames } from './wanted-names.js';
import { isCurrent } from './issue-job.js';

/** What one pass did, for logs and tests. */
export interface SyncSummary {
  readonly wanted: number;
  readonly queued: string[];
  readonly notIssuable: number;
}

export interface CertSyncDeps {
  readonly certs: CertStore;
  readonly enqueue: (name: string) => Promise<void>;
  /**
   * Puts a still-valid certificate of `name` back from the cache folder (HOPGATE_ACME_CACHE_DIR)
   * when Redis has no servable one; resolves with the stored record, or undefined. Absent: no cache.
   */
  readonly restore?: (name: string, now: number) => Promise<CertRecord | undefined>;
  readonly logger: Logger;
}

/**
 * One pass over the wanted names (at start, on every route-table change, and from the
 * renewal scheduler): queues an order for every name without a current certificate
 * (none yet, due for renewal, failed, malformed, expired), marks names it cannot certify
 * `not_issuable`, and leaves everything else alone. Names that left the route table keep
 * their record: nothing here deletes.
 */
export class CertSync {
  /** Names already warned about (one warning per name per process, not per pass). */
  private readonly warnedNotIssuable = new Set<string>();
  /** Malformed records already logged (name + reason). */
  private readonly loggedMalformed = new Set<string>();
  /** notAfter of each wanted name's stored certificate as the last pass read it (metrics). */
  private readonly notAfterByName = new Map<string, number>();
  private readonly log: Logger;

  constructor(private readonly deps: CertSyncDeps) {
    this.log = deps.logger.child({ component: 'cert-sync' });
  }

  /** The stored certificates of the wanted names, as the last pass read them (hopgate_certificate_expiry_timestamp_seconds). */
  *notAfter(): IterableIterator<{ name: string; notAfterMs: number }> {
    for (const [name, notAfterMs] of this.notAfterByName) yield { name, notAfterMs };
  }

  /** Reads `name`'s record again for its notAfter (after an order issued it). */
  async readExpiry(name: string): Promise<void> {
    const result = await this.deps.certs.get(name);
    const notAfter = result.ok ? result.record?.notAfter : undefined;
    if (notAfter !== undefined) this.notAfterByName.set(name, notAfter);
  }

  async run(wanted: WantedNames, reason: string, now: number = Date.now()): Promise<SyncSummary> {
    const queued: string[] = [];
    // Names that left the route table leave the metrics too.
    for (const name of [...this.notAfterByName.keys()]) if (!wanted.issuable.includes(name)) this.notAfterByName.delete(name);
    for (const [name, why] of wanted.notIssuable) {
      try {
        await this.markNotIssuable(name, why);
      } catch (err) {
        this.log.warn({ cert_name: name, err: errorMessageOf(err) }, 'could not record a not-issuable name');
      }
    }
    for (const name of wanted.issuable) {
      try {
        if (await this.needsOrder(name, now)) {
          await this.deps.enqueue(name);
          queued.push(name);
        }
      } catch (err) {
        this.log.warn({ cert_name: name, err: errorMessageOf(err) }, 'could not queue a certificate order');
      }
    }
    const summary = { wanted: wanted.issuable.length, queued, notIssuable: wanted.notIssuable.size };
    if (queued.length > 0) this.log.info({ reason, ...summary }, 'certificate orders queued');
    else this.log.debug({ reason, ...summary }, 'certificates checked: nothing to order');
    return summary;
  }

  private async needsOrder(name: string, now: number): Promise<boolean> {
    const result = await this.deps.certs.get(name);
    const notAfter = result.ok ? result.record?.notAfter : undefined;
    if (notAfter !== undefined) this.notAfterByName.set(name, notAfter);
    else this.notAfterByName.delete(name);
    if ((!result.ok || !isServable(result.record, now)) && this.deps.restore !== undefined) {
      // Nothing servable in Redis (it lost its data?): the cache folder may still hold the certificate.
      const restored = await this.deps.restore(name, now);
      if (restored !== undefined) return !isCurrent(restored, now);
    }
    if (!result.ok) {
      const key = `${name}\u0000${result.problem.reason}`;
      if (!this.loggedMalformed.has(key)) {
        this.loggedMalformed.add(key);
        this.log.warn({ cert_name: name, reason: result.problem.reason }, 'malformed certificate record: a new certificate will replace it');
      }
      return true;
    }
    if (result.record === undefined) {
      await this.deps.certs.markPending(name, now);
      return true;
    }
    return !isCurrent(result.record, now);
  }

  private async markNotIssuable(name: string, why: string): Promise<void> {
    const result = await this.deps.certs.get(name);
    const record = result.ok ? result.record : undefined;
    if (!this.warnedNotIssuable.has(name)) {
      this.warnedNotIssuable.add(name);
      this.log.warn({ cert_name: name, reason: why }, 'no certificate for this name');
    }
    if (record?.status === 'not_issuable' && record.lastError === why) return;
    await this.deps.certs.setStatus(name, 'not_issuable', why);
  }
}
