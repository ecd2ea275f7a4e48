import { createLogger, type Logger } from '@hopgate/log';
import { errorMessageOf } from '@hopgate/errors';
import type { LifecycleConfig } from '@hopgate/config';
import { createMetricsRegistry, type Registry } from '@hopgate/metrics';
import { installCrashHandlers } from './crash-handlers.js';
import { LoopMonitor } from './loop-monitor.js';
import { OpsServer } from './ops-server.js';
import { ServiceLifecycle, addProbeRoutes } from './service-lifecycle.js';
import { addMetricsRoute } from './metrics-route.js';
import type { Readiness } from './readiness.js';

/** Exit status when the configuration is invalid (EX_USAGE-like; the message is on stderr). */
export const BAD_CONFIG_EXIT_CODE = 2;
/** Exit status when the service could not start (Redis, NATS or a port unavailable). */
export const START_FAILED_EXIT_CODE = 1;
/** Longest wait for the clean-up of a service that failed to start, in ms; then it exits anyway. */
export const FAILED_START_CLEANUP_TIMEOUT_MS = 5_000;
/**
 * Time a service's drain() may overrun HOPGATE_DRAIN_TIMEOUT_MS before runService stops
 * waiting for it, in ms: the drain's own deadline comes first; this only guards a drain that
 * ignores it.
 */
export const DRAIN_OVERRUN_MARGIN_MS = 1_000;

/** A service's lifecycle, certmagic-style: provision (start), cleanup (stop); optionally drain and readiness. */
export interface RunnableService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Stop taking new work and let the work in progress finish, within `deadlineMs` (from the
   * call); resolves when done or when the deadline passed. stop() follows either way.
   */
  drain?(deadlineMs: number): Promise<void>;
  /** The service's own readiness (connections, state loaded); runService adds starting/draining. */
  readiness?(): Readiness;
  /**
   * Registers the service's collectors on the process's registry (GET /metrics on the ops
   * listener). Called once, right after create(), before start(): collectors read the service's
   * state at scrape time and must cope with a service not started yet.
   */
  metrics?(registry: Registry): void;
}

export interface RunServiceOptions<C extends { logLevel: string } & Partial<LifecycleConfig>> {
  /** Process name in messages and logs (`https-ingress`, ...). */
  name: string;
  /** Reads and validates the configuration; a throw exits with BAD_CONFIG_EXIT_CODE and the message. */
  loadConfig(): C;
  /** Builds the service from its configuration and the process's root logger. */
  create(config: C, logger: Logger): RunnableService;
}

/**
 * The main of a long-running service: configuration (exit 2 on an invalid one), one root
 * logger, last-resort crash handlers, the ops listener (/healthz, /readyz, /metrics; up before start,
 * so a service waiting for Redis or NATS is alive but not ready), start (exit 1 if it fails),
 * and on SIGINT/SIGTERM: readiness false at once, HOPGATE_DRAIN_DELAY_MS, the service's drain
 * (HOPGATE_DRAIN_TIMEOUT_MS; a second signal cuts it short), stop, exit 0.
 */
export async function runService<C extends { logLevel: string } & Partial<LifecycleConfig>>(options: RunServiceOptions<C>): Promise<void> {
  const { name } = options;
  let config: C;
  try {
    config = options.loadConfig();
  } catch (err) {
    process.stderr.write(`${name}: ${errorMessageOf(err)}\n`);
    process.exit(BAD_CONFIG_EXIT_CODE);
  }
  const logger = createLogger({ service: name, level: config.logLevel });
  installCrashHandlers(logger, name);
  const service = options.create(config, logger);
  const lifecycle = new ServiceLifecycle(service);
  let ops: OpsServer | undefined;
  if (config.opsListen) {
    const loop = new LoopMonitor();
    loop.start();
    ops = new OpsServer({ listen: config.opsListen, logger });
    addProbeRoutes(ops, lifecycle, loop);
    const registry = createMetricsRegistry();
    service.metrics?.(registry);
    addMetricsRoute(ops, registry, logger);
    try {
      await ops.start();
    } catch (err) {
      logger.fatal({ err: errorMessageOf(err) }, `${name}: the ops listener (HOPGATE_OPS_LISTEN) could not bind; set another address or off`);
      process.exit(START_FAILED_EXIT_CODE);
    }
  }
  const shutdown = new Shutdown({
    name,
    service,
    lifecycle,
    logger,
    drainTimeoutMs: config.drainTimeoutMs ?? 0,
    drainDelayMs: config.drainDelayMs ?? 0,
    closeOps: () => ops?.close() ?? Promise.resolve(),
  });
  process.on('SIGINT', () => shutdown.signal('SIGINT'));
  process.on('SIGTERM', () => shutdown.signal('SIGTERM'));
  try {
    await service.start();
  } catch (err) {
    if (lifecycle.phase === 'stopping') return; // a signal during start: the shutdown exits
    logger.fatal({ err: errorMessageOf(err) }, `${name} failed to start`);
    const bound = new Promise<void>((resolve) => setTimeout(resolve, FAILED_START_CLEANUP_TIMEOUT_MS).unref());
    await Promise.race([service.stop().catch(() => undefined), bound]);
    process.exit(START_FAILED_EXIT_CODE);
  }
  lifecycle.enter('running');
}

interface ShutdownOptions {
  name: string;
  service: RunnableService;
  lifecycle: ServiceLifecycle;
  logger: Logger;
  drainTimeoutMs: number;
  drainDelayMs: number;
  closeOps(): Promise<void>;
}

/**
 * The signal handling of runService. First signal while running: draining (readiness false),
 * the drain delay, drain() bounded by its deadline plus DRAIN_OVERRUN_MARGIN_MS, stop, exit 0.
 * A signal while starting stops at once. A second signal during the delay or the drain skips
 * to stop; later ones are only logged.
 */
class Shutdown {
  private signals = 0;
  /** A second signal came during the delay or the drain. */
  private cutShort = false;
  private skip: (() => void) | undefined;
  private readonly skipped: Promise<void>;

  constructor(private readonly o: ShutdownOptions) {
    this.skipped = new Promise((resolve) => (this.skip = resolve));
  }

  signal(signal: string): void {
    this.signals += 1;
    const { logger, name, lifecycle } = this.o;
    if (this.signals === 1) {
      void this.run(signal, lifecycle.phase === 'starting');
      return;
    }
    if (lifecycle.phase === 'draining') {
      logger.warn({ signal }, `${name}: second signal: drain cut short`);
      this.cutShort = true;
      this.skip?.();
    } else {
      logger.info({ signal }, `${name}: already stopping`);
    }
  }

  private async run(signal: string, starting: boolean): Promise<void> {
    const { logger, name, lifecycle, service } = this.o;
    if (!starting) {
      lifecycle.enter('draining');
      const { drainDelayMs, drainTimeoutMs } = this.o;
      logger.info({ signal, drain_delay_ms: drainDelayMs, drain_timeout_ms: drainTimeoutMs }, `${name} draining`);
      const began = Date.now();
      if (drainDelayMs > 0) await Promise.race([this.after(drainDelayMs, undefined), this.skipped]);
      if (service.drain && !this.cutShort) {
        const drained = service.drain(drainTimeoutMs).then(
          () => 'drained' as const,
          (err: unknown) => {
            logger.error({ err: errorMessageOf(err) }, `${name}: error while draining`);
            return 'failed' as const;
          },
        );
        const outcome = await Promise.race([drained, this.after(drainTimeoutMs + DRAIN_OVERRUN_MARGIN_MS, 'overran' as const), this.skipped.then(() => 'cut' as const)]);
        logger.info({ outcome, drain_ms: Date.now() - began }, `${name} drain ended`);
      }
    }
    lifecycle.enter('stopping');
    logger.info({ signal }, `${name} stopping`);
    let code = 0;
    try {
      await service.stop();
    } catch (err) {
      logger.error({ err: errorMessageOf(err) }, `${name}: error while stopping`);
      code = START_FAILED_EXIT_CODE;
    }
    await this.o.closeOps().catch(() => undefined);
    process.exit(code);
  }

  private after<T>(ms: number, value: T): Promise<T> {
    return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
  }
}
