import { performance } from 'node:perf_hooks';
import { Client } from 'undici';

/** Pause of each worker between two requests, in ms: keeps the load light on a shared 2-core machine. */
export const DEFAULT_LOAD_PAUSE_MS = 20;
/** Workers (each one keep-alive connection) per target. */
export const DEFAULT_LOAD_WORKERS_PER_TARGET = 2;
/** A request without its full answer after this long counts as failed (`timeout`), in ms. */
export const DEFAULT_LOAD_REQUEST_TIMEOUT_MS = 10_000;

/** What the load asks for: one agent's route. */
export interface LoadTarget {
  /** Name in stats (e.g. the agent's name). */
  name: string;
  /** Host header and TLS server name. */
  host: string;
  /** Path (default `/`). */
  path?: string;
  /** The body a good answer carries (default: any 200 is good). */
  expectBody?: string;
}

export interface LoadGeneratorOptions {
  /** Where to connect (the balancer), e.g. `https://127.0.0.1:PORT`. */
  origin: string;
  /** PEM CA the ingresses' certificates chain to. */
  ca: string;
  targets: readonly LoadTarget[];
  workersPerTarget?: number;
  pauseMs?: number;
  requestTimeoutMs?: number;
}

/** One request's outcome, in the order they completed. */
export interface LoadOutcome {
  /** performance.now() when the answer (or the error) came. */
  at: number;
  /** Index in `targets`. */
  target: number;
  ok: boolean;
  /** `200`, `502`, ... or an error code (`UND_ERR_SOCKET`, `ECONNRESET`, `timeout`, `body`). */
  kind: string;
}

export interface LoadTargetStats {
  name: string;
  ok: number;
  failed: number;
  /** Longest time between two successes of this target (or the last one and now), in ms. */
  longestGapMs: number;
}

/** One target through a fault (LoadGenerator.recovery); times from the fault, in ms. */
export interface TargetRecovery {
  name: string;
  failed: number;
  /** From the fault to its first success after its first failure: 0 if it never failed, undefined if not resumed yet. */
  resumedMs: number | undefined;
  firstFailureMs: number | undefined;
  lastFailureMs: number | undefined;
}

export interface LoadStats {
  ok: number;
  failed: number;
  /** Failures by status or error code. */
  failures: Record<string, number>;
  /** Longest time without any success, over all targets, in ms. */
  longestGapMs: number;
  targets: LoadTargetStats[];
}

/**
 * Continuous load through a balancer: per target, `workersPerTarget` workers, each with its own
 * keep-alive undici Client (one connection, so the balancer spreads the workers over the
 * ingresses), sending GETs one after the other. A worker whose connection broke gets a new one
 * from the balancer on its next request. Every outcome is kept (time, target, status or error
 * code), so that figures can be cut at any instant (`outcomes` from a mark).
 */
export class LoadGenerator {
  readonly outcomes: LoadOutcome[] = [];
  readonly startedAt = performance.now();
  private running = true;
  private readonly workers: Promise<void>[] = [];
  private readonly clients: Client[] = [];

  constructor(private readonly options: LoadGeneratorOptions) {
    const perTarget = options.workersPerTarget ?? DEFAULT_LOAD_WORKERS_PER_TARGET;
    options.targets.forEach((target, index) => {
      for (let w = 0; w < perTarget; w++) this.workers.push(this.work(index, target));
    });
  }

  /** Stops sending and waits for the requests in flight (bounded by the request timeout). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
    await Promise.all(this.clients.map((c) => c.destroy().catch(() => undefined)));
  }

  /** Figures over the outcomes from index `from` (default all) up to now. */
  stats(from = 0): LoadStats {
    const slice = this.outcomes.slice(from);
    const start = from === 0 ? this.startedAt : (this.outcomes[from - 1]?.at ?? this.startedAt);
    const now = performance.now();
    const failures: Record<string, number> = {};
    const targets = this.options.targets.map((t) => ({ name: t.name, ok: 0, failed: 0, longestGapMs: 0, last: start }));
    let ok = 0;
    let lastAny = start;
    let longestAny = 0;
    for (const o of slice) {
      const t = targets[o.target]!;
      if (o.ok) {
        ok += 1;
        t.ok += 1;
        t.longestGapMs = Math.max(t.longestGapMs, o.at - t.last);
        t.last = o.at;
        longestAny = Math.max(longestAny, o.at - lastAny);
        lastAny = o.at;
      } else {
        t.failed += 1;
        failures[o.kind] = (failures[o.kind] ?? 0) + 1;
      }
    }
    for (const t of targets) t.longestGapMs = Math.max(t.longestGapMs, now - t.last);
    longestAny = Math.max(longestAny, now - lastAny);
    return {
      ok,
      failed: slice.length - ok,
      failures,
      longestGapMs: Math.round(longestAny),
      targets: targets.map(({ name, ok: o, failed, longestGapMs }) => ({ name, ok: o, failed, longestGapMs: Math.round(longestGapMs) })),
    };
  }

  /**
   * How each target came through a fault at `faultAt` (performance.now()), over the outcomes
   * from index `from` (a mark taken just before the fault): its failures, and `resumedMs`, the
   * time from the fault to its first success after its first failure (0 when it never failed,
   * undefined when it failed and has not succeeded since).
   */
  recovery(from: number, faultAt: number): TargetRecovery[] {
    const result: TargetRecovery[] = this.options.targets.map((t) => ({ name: t.name, failed: 0, resumedMs: 0, firstFailureMs: undefined, lastFailureMs: undefined }));
    const failedSince = new Set<number>();
    for (let i = from; i < this.outcomes.length; i++) {
      const o = this.outcomes[i]!;
      const r = result[o.target]!;
      if (!o.ok) {
        r.failed += 1;
        r.lastFailureMs = Math.round(o.at - faultAt);
        if (r.firstFailureMs === undefined) {
          r.firstFailureMs = Math.round(o.at - faultAt);
          r.resumedMs = undefined;
          failedSince.add(o.target);
        }
      } else if (failedSince.has(o.target)) {
        failedSince.delete(o.target);
        r.resumedMs = Math.round(o.at - faultAt);
      }
    }
    return result;
  }

  /** Resolves once every target had a success after now (or rejects after `timeoutMs`). */
  async waitAllServing(timeoutMs: number): Promise<void> {
    const from = this.outcomes.length;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const served = new Set<number>();
      for (let i = from; i < this.outcomes.length; i++) if (this.outcomes[i]!.ok) served.add(this.outcomes[i]!.target);
      if (served.size === this.options.targets.length) return;
      if (performance.now() > deadline) {
        const missing = this.options.targets.filter((_, i) => !served.has(i)).map((t) => t.name);
        throw new Error(`not every target served within ${timeoutMs} ms: ${missing.join(', ')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private newClient(target: LoadTarget): Client {
    const client = new Client(this.options.origin, {
      connect: { ca: this.options.ca, servername: target.host },
      pipelining: 1,
      headersTimeout: this.options.requestTimeoutMs ?? DEFAULT_LOAD_REQUEST_TIMEOUT_MS,
      bodyTimeout: this.options.requestTimeoutMs ?? DEFAULT_LOAD_REQUEST_TIMEOUT_MS,
    });
    this.clients.push(client);
    return client;
  }

  private async work(index: number, target: LoadTarget): Promise<void> {
    const pauseMs = this.options.pauseMs ?? DEFAULT_LOAD_PAUSE_MS;
    let client = this.newClient(target);
    while (this.running) {
      let kind: string;
      let ok = false;
      try {
        const res = await client.request({ path: target.path ?? '/', method: 'GET', headers: { host: target.host } });
        const body = await res.body.text();
        kind = String(res.statusCode);
        ok = res.statusCode === 200 && (target.expectBody === undefined || body === target.expectBody);
        if (res.statusCode === 200 && !ok) kind = 'body';
      } catch (err) {
        kind = errorKind(err);
        // A broken connection: the next request takes a new one from the balancer.
        void client.destroy().catch(() => undefined);
        client = this.newClient(target);
      }
      this.outcomes.push({ at: performance.now(), target: index, ok, kind });
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}

function errorKind(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  return typeof code === 'string' ? code : 'error';
}
