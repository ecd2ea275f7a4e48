import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Job } from 'bullmq';
import type { CertManagerConfig } from '@hopgate/config';
import { CertStore, ChallengeStore, encodeCertUpdated } from '@hopgate/certs';
import { errorMessageOf } from '@hopgate/errors';
import { RedisKeys, NatsSubjects } from '@hopgate/keys';
import type { Logger } from '@hopgate/log';
import { RouteLoader } from '@hopgate/routes';
import { connectRedis, createRedis, connectNats, firstNotReady, natsReadiness, notReady, redisReadiness, READY, type Readiness } from '@hopgate/runtime';
import { AccountStore } from './account-store.js';
import { AcmeIssuer } from './acme-issuer.js';
import { CertLock } from './cert-lock.js';
import { CertSync, type SyncSummary } from './cert-sync.js';
import { CacheRestore } from './cache-restore.js';
import { IssueQueue, ISSUE_ATTEMPTS, ISSUE_JOB_NAME, SCAN_JOB_NAME, type IssueJobData } from './issue-queue.js';
import { runIssueJob, type IssueJobDeps } from './issue-job.js';
import { wantedNames } from './wanted-names.js';
import { CertManagerMetrics, addBusGauges, addCertificateExpiry, type Registry } from '@hopgate/metrics';

/** ioredis reconnect backoff: `attempt * step`, capped (ms). */
const REDIS_RECONNECT_STEP_MS = 100;
const REDIS_RECONNECT_MAX_DELAY_MS = 2_000;

/**
 * The cert-manager: keeps an ACME certificate in Redis for every exact route host,
 * HOPGATE_ACME_DOMAINS and HOPGATE_HUB_NAME; renews them; broadcasts `hopgate.cert.updated`.
 * Any number of replicas may run: orders go through one BullMQ queue (one job per name)
 * and a per-name lock in Redis.
 */
export class CertManager {
  private redis: Redis | undefined;
  private bullConnection: Redis | undefined;
  private nc: NatsConnection | undefined;
  private routes: RouteLoader | undefined;
  private queue: IssueQueue | undefined;
  private sync: CertSync | undefined;
  /** Orders by outcome (GET /metrics), once runService registered them. */
  private orderMetrics: CertManagerMetrics | undefined;
  private readonly keys: RedisKeys;
  private readonly subjects = new NatsSubjects();
  private readonly log: Logger;
  /** Passes run one at a time; a change during a pass runs one more pass after it. */
  private syncRunning: Promise<void> | undefined;
  private syncAgain = false;
  private stopped = false;
  private draining = false;

  constructor(
    private readonly config: CertManagerConfig,
    private readonly logger: Logger,
  ) {
    this.keys = new RedisKeys(config.redisPrefix);
    this.log = logger.child({ component: 'cert-manager' });
  }

  /** HOPGATE_ACME_DOMAINS ∪ HOPGATE_HUB_NAME. */
  private get configuredNames(): string[] {
    return [...this.config.acmeDomains, ...(this.config.hubName !== undefined ? [this.config.hubName] : [])];
  }

  /** cert-manager's collectors (runService calls it before start): orders, certificate expiry, Redis/NATS. */
  metrics(registry: Registry): void {
    this.orderMetrics = new CertManagerMetrics(registry);
    addCertificateExpiry(registry, () => this.sync?.notAfter() ?? []);
    addBusGauges(registry, {
      redisConnected: () => redisReadiness(this.redis).ready && (this.bullConnection === undefined || redisReadiness(this.bullConnection).ready),
      natsConnected: () => natsReadiness(this.nc).ready,
    });
  }

  async start(): Promise<void> {
    const cfg = this.config;
    const retryStrategy = (attempt: number): number => Math.min(attempt * REDIS_RECONNECT_STEP_MS, REDIS_RECONNECT_MAX_DELAY_MS);
    this.redis = await connectRedis(cfg, { name: 'hopgate-cert-manager', logger: this.logger, waitUntilReachable: true, options: { maxRetriesPerRequest: 2, retryStrategy } });
    // BullMQ requires maxRetriesPerRequest: null (its blocking commands wait for a reconnect).
    this.bullConnection = createRedis(cfg, { name: 'hopgate-cert-manager-queue', logger: this.logger, options: { maxRetriesPerRequest: null, retryStrategy } });
    this.nc = await connectNats(cfg, { name: `cert-manager-${cfg.replicaId}`, service: 'cert-manager', logger: this.logger, waitUntilReachable: true });

    const certs = new CertStore(this.redis, this.keys);
    const issuer = new AcmeIssuer({
      directoryUrl: cfg.acmeDirectory,
      email: cfg.acmeEmail,
      challenge: cfg.acmeChallenge,
      caFile: cfg.acmeCaFile,
      pollMinMs: cfg.pollMinMs,
      accounts: new AccountStore(this.redis, this.keys),
      cacheDir: cfg.acmeCacheDir,
      challenges: new ChallengeStore(this.redis, this.keys),
      logger: this.logger,
    });
    // The account key exists before any order; registering it needs the ACME server, done by the first order.
    await issuer.ensureAccount();

    this.routes = new RouteLoader({ redis: cfg, keys: this.keys, logger: this.logger });
    await this.routes.start();

    this.queue = new IssueQueue({ connection: this.bullConnection, prefix: this.keys.bullPrefix, retryBaseMs: cfg.retryBaseMs });
    const restore = cfg.acmeCacheDir === undefined
      ? undefined
      : new CacheRestore({ dir: cfg.acmeCacheDir, certs, announce: (record) => this.nc?.publish(this.subjects.certUpdated, encodeCertUpdated(record)), logger: this.logger });
    this.sync = new CertSync({ certs, enqueue: (name) => this.queue!.enqueue(name), restore: restore && ((name, now) => restore.restore(name, now)), logger: this.logger });
    const configured = new Set(this.configuredNames);
    const jobDeps: IssueJobDeps = {
      redis: this.redis,
      keys: this.keys,
      certs,
      lock: new CertLock(this.redis, this.keys, cfg.replicaId),
      issuer,
      nc: this.nc,
      subjects: this.subjects,
      configuredNames: configured,
      routeHasHost: (name) => this.routes?.current.entries().some((r) => r.host === name) ?? false,
      cacheDir: cfg.acmeCacheDir,
      restore: restore && ((name, now) => restore.restore(name, now)),
      logger: this.logger,
    };
    const worker = this.queue.startWorker(async (job: Job, signal) => {
      if (job.name === SCAN_JOB_NAME) return this.runSync('scheduled');
      if (job.name === ISSUE_JOB_NAME) {
        const { name } = job.data as IssueJobData;
        return runIssueJob(name, `${job.attemptsMade + 1}/${ISSUE_ATTEMPTS}`, { ...jobDeps, signal }).then(
          async (outcome) => {
            this.orderMetrics?.order(outcome);
            if (outcome === 'issued') await this.sync?.readExpiry(name).catch((err: unknown) => this.log.debug({ cert_name: name, err: errorMessageOf(err) }, 'metrics: cannot read the new certificate\'s expiry'));
            return outcome;
          },
          (err: unknown) => {
            // Aborted by the drain: handed back to another replica, not failed (issue-job.ts).
            this.orderMetrics?.order(signal?.aborted ? 'handed_back' : 'failed');
            throw err;
          },
        );
      }
      this.log.warn({ job: job.name }, 'unknown job in the cert-manager queue: ignored');
      return undefined;
    });
    worker.on('error', (err) => this.log.warn({ err: errorMessageOf(err) }, 'queue worker error'));
    worker.on('failed', (job, err) => {
      if (!job || job.name !== ISSUE_JOB_NAME) return;
      const name = (job.data as IssueJobData).name;
      if (job.attemptsMade >= ISSUE_ATTEMPTS) {
        this.log.warn({ cert_name: name, attempts: job.attemptsMade, err: errorMessageOf(err) }, 'certificate order gave up; the next renewal pass tries again');
      }
    });
    await this.queue.schedule(cfg.renewCheckIntervalMs);
    this.routes.on('change', () => void this.runSync('routes changed').catch(() => undefined));
    await this.runSync('start');
    this.log.info(
      {
        directory: cfg.acmeDirectory,
        challenge: cfg.acmeChallenge,
        configured_names: this.configuredNames,
        renew_check_interval_ms: cfg.renewCheckIntervalMs,
        replica_id: cfg.replicaId,
      },
      'cert-manager started',
    );
  }

  /** One pass now (coalesced: a request during a pass runs one more pass after it). */
  runSync(reason: string): Promise<void> {
    if (this.syncRunning) {
      this.syncAgain = true;
      return this.syncRunning;
    }
    const pass = async (): Promise<void> => {
      let why = reason;
      do {
        this.syncAgain = false;
        if (this.stopped || !this.routes || !this.sync) return;
        const wanted = wantedNames(this.routes.current, this.configuredNames);
        const summary: SyncSummary = await this.sync.run(wanted, why);
        this.log.debug({ reason: why, queued: summary.queued.length }, 'pass done');
        why = 'changed during a pass';
      } while (this.syncAgain);
    };
    this.syncRunning = pass().finally(() => {
      this.syncRunning = undefined;
    });
    return this.syncRunning;
  }

  /** /readyz: Redis (both connections) and NATS connected, the queue worker running, not draining. */
  readiness(): Readiness {
    if (this.draining) return notReady('draining');
    return firstNotReady(
      redisReadiness(this.redis),
      this.bullConnection ? redisReadiness(this.bullConnection) : undefined,
      natsReadiness(this.nc),
      this.queue?.workerRunning ? READY : notReady('queue worker not running'),
    );
  }

  /**
   * SIGTERM: no new order; the running ones finish within the deadline or are handed back
   * (their locks released, their jobs back in the queue for another replica). stop() follows.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    if (!this.queue) return;
    const began = Date.now();
    const outcome = await this.queue.drainWorker(deadlineMs);
    this.log.info({ outcome, drain_ms: Date.now() - began }, outcome === 'finished' ? 'drained: running orders finished' : 'drained: running orders handed back to the queue');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.routes?.stop().catch(() => undefined);
    await this.queue?.close();
    await this.syncRunning?.catch(() => undefined);
    await this.nc?.drain().catch(() => undefined);
    this.bullConnection?.disconnect();
    this.redis?.disconnect();
  }
}
