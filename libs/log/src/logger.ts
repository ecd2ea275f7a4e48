import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Field paths whose values never reach a log line. */
export const REDACT_PATHS: readonly string[] = [
  'token',
  '*.token',
  'key',
  '*.key',
  'private_key',
  '*.private_key',
  'password',
  '*.password',
  'authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
];

export const DEFAULT_LOG_LEVEL: LevelWithSilent = 'info';

export interface LoggerOptions {
  /** Service name, logged as `service`. */
  service: string;
  /** pino level; default `DEFAULT_LOG_LEVEL`. */
  level?: string;
  /** Destination stream; default stdout. */
  destination?: NodeJS.WritableStream;
}

/** One root logger per process; components take `child({ component })`. */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? DEFAULT_LOG_LEVEL;
  const opts = {
    level,
    base: { service: options.service, pid: process.pid },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that drops everything (tests, libraries used without a logger). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const LEVEL_METHODS: ReadonlySet<string> = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const noop = (): void => undefined;

/**
 * `parent.child(bindings)`, made on first use: a per-request logger costs nothing while the
 * request logs nothing at an enabled level (pino's child() serializes and redacts the
 * bindings at once, a measurable cost per request on the GET path). Calls at a level the
 * parent has disabled are dropped without making the child.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let real: Logger | undefined;
  const materialize = (): Logger => (real ??= parent.child(bindings));
  return new Proxy(parent, {
    get(_target, key) {
      if (real === undefined && typeof key === 'string' && LEVEL_METHODS.has(key) && !parent.isLevelEnabled(key)) return noop;
      const logger = materialize();
      const value: unknown = Reflect.get(logger, key, logger);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(logger) : value;
    },
    set(_target, key, value) {
      return Reflect.set(materialize(), key, value);
    },
    has(_target, key) {
      return Reflect.has(materialize(), key);
    },
  });
}
