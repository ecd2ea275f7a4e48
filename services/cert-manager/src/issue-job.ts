import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import { CertStore, encodeCertUpdated, isServable, type CertRecord } from '@hopgate/certs';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';
import type { NatsSubjects, RedisKeys } from '@hopgate/keys';
import type { Logger } from '@hopgate/log';
import type { AcmeIssuer } from './acme-issuer.js';
import type { CertLock } from './cert-lock.js';
import { mirrorToCache } from './cache-mirror.js';
import { lastErrorOf } from './acme-error.js';

/** What one `issue` job did. */
export type IssueOutcome = 'issued' | 'not_needed' | 'not_wanted';

export interface IssueJobDeps {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  readonly certs: CertStore;
  readonly lock: CertLock;
  readonly issuer: AcmeIssuer;
  readonly nc: NatsConnection;
  readonly subjects: NatsSubjects;
  /** HOPGATE_ACME_DOMAINS and HOPGATE_HUB_NAME. */
  readonly configuredNames: ReadonlySet<string>;
  /** Whether this replica's route table has an exact route for `name`. */
  readonly routeHasHost: (name: string) => boolean;
  readonly cacheDir: string | undefined;
  /** Puts a still-valid cached certificate back into Redis (CertSyncDeps.restore); absent without a cache folder. */
  readonly restore?: (name: string, now: number) => Promise<CertRecord | undefined>;
  readonly logger: Logger;
  /** Aborted when this replica hands the job back (drain): the order is left, the lock released. */
  readonly signal?: AbortSignal;
}

/**
 * `work`, or a rejection (HopError ERR_CLOSED) as soon as `signal` aborts; `work` itself runs
 * on in the background, its outcome ignored.
 */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new HopError(ErrorCode.Closed, 'order handed back: this cert-manager is draining'));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** True when `record` holds a certificate that is servable and not yet due for renewal. */
export function isCurrent(record: CertRecord | undefined, now: number = Date.now()): boolean {
  return isServable(record, now) && record.renewAt !== undefined && record.renewAt > now && record.status !== 'failed';
}

/**
 * One order for one name, under the name's cluster-wide lock. The need is checked again
 * under the lock, so a job queued twice (two replicas, a scheduler pass racing a route
 * change) orders once. Throws on failure (BullMQ retries with backoff) after recording
 * `status=failed` and `last_error`.
 */
export async function runIssueJob(name: string, attempt: string, deps: IssueJobDeps): Promise<IssueOutcome> {
  const log = deps.logger.child({ cert_name: name });
  const held = await deps.lock.acquire(name, (owner) => log.error({ owner }, 'certificate lock lost while the order ran'));
  if (!held) {
    throw new HopError(ErrorCode.Busy, `another cert-manager replica holds the lock for ${name} (${(await deps.lock.owner(name)) ?? 'released since'})`);
  }
  try {
    const wanted = deps.configuredNames.has(name) || deps.routeHasHost(name) || (await deps.redis.exists(deps.keys.route(name))) === 1;
    if (!wanted) {
      log.info('not wanted any more (no route, not configured): no order');
      return 'not_wanted';
    }
    const current = await deps.certs.get(name);
    let record = current.ok ? current.record : undefined;
    if (!isServable(record) && deps.restore !== undefined) {
      // Checked again under the lock: a job queued before Redis lost its data must not order what the cache holds.
      record = (await deps.restore(name, Date.now())) ?? record;
    }
    if (isCurrent(record)) {
      log.debug('certificate is current: no order');
      return 'not_needed';
    }
    const renewing = isServable(record);
    // The previous failure stays visible while the retry runs; success clears it.
    await deps.certs.setStatus(name, renewing ? 'renewing' : 'issuing', record?.lastError);
    log.info({ attempt, renewing }, 'ordering certificate');
    let issued: CertRecord;
    try {
      const { chainPem, keyPem } = await unlessAborted(deps.issuer.issue(name), deps.signal);
      issued = await deps.certs.putIssued(name, chainPem, keyPem);
    } catch (err) {
      if (deps.signal?.aborted) {
        // Handed back, not failed: the status stays `issuing`/`renewing` for the replica that takes it.
        log.info({ attempt }, 'order handed back (draining)');
        throw err;
      }
      const lastError = lastErrorOf(err);
      await deps.certs.setStatus(name, 'failed', lastError).catch((e: unknown) => log.error({ err: errorMessageOf(e) }, 'could not record the failure'));
      log.warn({ attempt, err: lastError }, 'certificate order failed');
      throw err;
    }
    log.info({ serial: issued.serial, not_after: issued.notAfter !== undefined ? new Date(issued.notAfter).toISOString() : undefined }, 'certificate issued');
    // The cache mirror first: whoever acts on the broadcast finds the files up to date too.
    if (deps.cacheDir !== undefined && issued.chainPem !== undefined && issued.keyPem !== undefined) {
      await mirrorToCache(deps.cacheDir, name, issued.chainPem, issued.keyPem).catch((err: unknown) =>
        log.error({ err: errorMessageOf(err), dir: deps.cacheDir }, 'could not mirror the certificate to the cache folder'),
      );
    }
    deps.nc.publish(deps.subjects.certUpdated, encodeCertUpdated(issued));
    return 'issued';
  } finally {
    await held.release().catch((err: unknown) => log.warn({ err: errorMessageOf(err) }, 'could not release the certificate lock (it expires by itself)'));
  }
}
