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
 * The Proxy handler of `lazyChild`: its traps are methods of one class, so a lazy child costs
 * one Proxy and one small handler object (no closures of its own), as loggers per session
 * are made for every idle agent session a hub holds.
 */
class LazyChildHandler implements ProxyHandler<Logger> {
  private real: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
  ) {}

  get(_target: Logger, key: string | symbol): unknown {
    if (this.real === undefined && typeof key === 'string' && LEVEL_METHODS.has(key) && !this.parent.isLevelEnabled(key)) return noop;
    const logger = this.materialize();
    const value: unknown = Reflect.get(logger, key, logger);
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(logger) : value;
  }

  set(_target: Logger, key: string | symbol, value: unknown): boolean {
    return Reflect.set(this.materialize(), key, value);
  }

  has(_target: Logger, key: string | symbol): boolean {
    return Reflect.has(this.materialize(), key);
  }

  private materialize(): Logger {
    return (this.real ??= this.parent.child(this.bindings));
  }
}

/**
 * `parent.child(bindings)`, made on first use: a per-request logger costs nothing while the
 * request logs nothing at an enabled level (pino's child() serializes and redacts the
 * bindings at once, a measurable cost per request on the GET path), and a per-session one
 * little heap while the session is idle. Calls at a level the parent has disabled are
 * dropped without making the child.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  return new Proxy(parent, new LazyChildHandler(parent, bindings));
}
