import { createLogger, type Logger } from '@hopgate/log';
import { errorMessageOf } from '@hopgate/errors';
import { installCrashHandlers } from './crash-handlers.js';

/** Exit status when the configuration is invalid (EX_USAGE-like; the message is on stderr). */
export const BAD_CONFIG_EXIT_CODE = 2;
/** Exit status when the service could not start (Redis, NATS or a port unavailable). */
export const START_FAILED_EXIT_CODE = 1;
/** Longest wait for the clean-up of a service that failed to start, in ms; then it exits anyway. */
export const FAILED_START_CLEANUP_TIMEOUT_MS = 5_000;

/** A service's lifecycle, certmagic-style: provision (start), cleanup (stop). */
export interface RunnableService {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RunServiceOptions<C extends { logLevel: string }> {
  /** Process name in messages and logs (`https-ingress`, ...). */
  name: string;
  /** Reads and validates the configuration; a throw exits with BAD_CONFIG_EXIT_CODE and the message. */
  loadConfig(): C;
  /** Builds the service from its configuration and the process's root logger. */
  create(config: C, logger: Logger): RunnableService;
}

/**
 * The main of a long-running service: configuration (exit 2 on an invalid one), one root
 * logger, last-resort crash handlers, start (exit 1 if it fails), and a clean stop on
 * SIGINT/SIGTERM (exit 0).
 */
export async function runService<C extends { logLevel: string }>(options: RunServiceOptions<C>): Promise<void> {
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
  try {
    await service.start();
  } catch (err) {
    logger.fatal({ err: errorMessageOf(err) }, `${name} failed to start`);
    const bound = new Promise<void>((resolve) => setTimeout(resolve, FAILED_START_CLEANUP_TIMEOUT_MS).unref());
    await Promise.race([service.stop().catch(() => undefined), bound]);
    process.exit(START_FAILED_EXIT_CODE);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${name} stopping`);
    void service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: errorMessageOf(err) }, `${name}: error while stopping`);
        process.exit(START_FAILED_EXIT_CODE);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
