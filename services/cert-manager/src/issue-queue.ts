import { Queue, Worker, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';

/** BullMQ queue of the cert-manager (keys `<prefix>bull:cert-issue:*`). */
export const ISSUE_QUEUE_NAME = 'cert-issue';
/** Job name of an order for one certificate name (`data.name`). */
export const ISSUE_JOB_NAME = 'issue';
/** Job name of a renewal-scheduler pass. */
export const SCAN_JOB_NAME = 'scan';
/** Id of the one job scheduler that runs the renewal pass, shared by every replica. */
export const RENEWAL_SCHEDULER_ID = 'renewal-scan';
/** Orders per name before the job gives up; the next scheduler pass starts a new job. */
export const ISSUE_ATTEMPTS = 5;
/** Longest delay between two attempts of one job, in ms (the doubling stops here). */
export const MAX_RETRY_DELAY_MS = 3_600_000;
/** Orders one replica runs at once. */
export const ISSUE_CONCURRENCY = 4;
/** On stop, running orders get this long to finish (ms) before the worker is closed anyway; a cut order is retried as a stalled job. */
export const WORKER_CLOSE_GRACE_MS = 10_000;
/**
 * Part of a drain's deadline kept for handing running orders back, in ms: at the deadline minus
 * this, running orders are cancelled, their locks released and their jobs moved back to `wait`.
 */
export const HAND_BACK_MARGIN_MS = 2_000;
/** What a drain did with the orders running when it began. */
export type WorkerDrainOutcome = 'finished' | 'handed_back';
/** Name of the backoff strategy registered on the worker. */
const BACKOFF_TYPE = 'capped-exponential';

/** BullMQ job ids may not contain `:`; DNS names never do. */
export function issueJobId(name: string): string {
  return `issue-${name}`;
}

/** Delay before attempt `attemptsMade + 1`: base, 2×base, 4×base, ... capped at MAX_RETRY_DELAY_MS. */
export function retryDelayMs(attemptsMade: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attemptsMade - 1), MAX_RETRY_DELAY_MS);
}

export interface IssueJobData {
  readonly name: string;
}

export interface IssueQueueOptions {
  /** An ioredis connection with `maxRetriesPerRequest: null` (BullMQ's requirement). */
  readonly connection: Redis;
  /** `RedisKeys.bullPrefix`. */
  readonly prefix: string;
  /** First retry delay, in ms (HOPGATE_ACME_RETRY_BASE_MS). */
  readonly retryBaseMs: number;
}

/**
 * The cert-manager's queue: one `issue` job per name at a time (job id `issue-<name>`, so a
 * duplicate enqueue is a no-op), retried with capped exponential backoff, and a shared
 * job scheduler that runs the renewal pass.
 */
export class IssueQueue {
  readonly queue: Queue;
  private worker: Worker | undefined;

  constructor(private readonly options: IssueQueueOptions) {
    this.queue = new Queue(ISSUE_QUEUE_NAME, { connection: options.connection, prefix: options.prefix });
  }

  /** Queues an order for `name` unless one is queued, running or waiting to retry. */
  async enqueue(name: string): Promise<void> {
    const data: IssueJobData = { name };
    await this.queue.add(ISSUE_JOB_NAME, data, {
      jobId: issueJobId(name),
      attempts: ISSUE_ATTEMPTS,
      backoff: { type: BACKOFF_TYPE },
      // Removed when done either way, so the next pass can queue the name again.
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  /** Creates or updates the one renewal scheduler (every `everyMs`). */
  async schedule(everyMs: number): Promise<void> {
    await this.queue.upsertJobScheduler(RENEWAL_SCHEDULER_ID, { every: everyMs }, {
      name: SCAN_JOB_NAME,
      data: {},
      opts: { removeOnComplete: true, removeOnFail: true },
    });
  }

  /**
   * Starts processing jobs. `processor` gets an AbortSignal that aborts when a drain hands its
   * job back; a processor that rejects after the abort has its job moved back to `wait`
   * (lock released, the attempt not counted), where another replica takes it.
   */
  startWorker(processor: (job: Job, signal: AbortSignal | undefined) => Promise<unknown>): Worker {
    const handBackOnAbort = async (job: Job, token?: string, signal?: AbortSignal): Promise<unknown> => {
      try {
        return await processor(job, signal);
      } catch (err) {
        if (!signal?.aborted) throw err;
        await job.moveToWait(token);
        throw new WaitingError();
      }
    };
    this.worker = new Worker(ISSUE_QUEUE_NAME, handBackOnAbort, {
      connection: this.options.connection,
      prefix: this.options.prefix,
      concurrency: ISSUE_CONCURRENCY,
      settings: { backoffStrategy: (attemptsMade: number) => retryDelayMs(attemptsMade, this.options.retryBaseMs) },
    });
    return this.worker;
  }

  /** Whether the worker takes jobs (readiness). */
  get workerRunning(): boolean {
    return this.worker?.isRunning() ?? false;
  }

  /**
   * Drain: the worker takes no new job; running orders get until `deadlineMs` minus
   * HAND_BACK_MARGIN_MS to finish, then are handed back (cancelled, jobs back in `wait`).
   */
  async drainWorker(deadlineMs: number): Promise<WorkerDrainOutcome> {
    const worker = this.worker;
    if (!worker) return 'finished';
    const closing = worker.close().then(() => true, () => true);
    let timer: NodeJS.Timeout | undefined;
    const finishBy = Math.max(0, deadlineMs - HAND_BACK_MARGIN_MS);
    const finished = await Promise.race([closing, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), finishBy)))]);
    clearTimeout(timer);
    if (finished) return 'finished';
    worker.cancelAllJobs('draining');
    await Promise.race([closing, new Promise<void>((resolve) => (timer = setTimeout(resolve, HAND_BACK_MARGIN_MS)))]);
    clearTimeout(timer);
    return 'handed_back';
  }

  /** Stops the worker (running orders get WORKER_CLOSE_GRACE_MS to finish, else they stall and are retried) and the queue. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (worker) {
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, WORKER_CLOSE_GRACE_MS)));
      await Promise.race([worker.close().catch(() => undefined), graceOver]);
      clearTimeout(timer);
      await worker.close(true).catch(() => undefined);
    }
    await this.queue.close().catch(() => undefined);
  }
}
