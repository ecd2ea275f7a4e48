import { pino, type Logger, type LevelWithSilent } from 'pino';
import { redactSecrets } from './redact.js';
import { stdoutTurnDestination } from './turn-buffered-destination.js';

export type { Logger };

export const DEFAULT_LOG_LEVEL: LevelWithSilent = 'info';

export interface LoggerOptions {
  /** Service name, logged as `service`. */
  service: string;
  /** pino level; default `DEFAULT_LOG_LEVEL`. */
  level?: string;
  /** Destination stream; default stdout, written once per event-loop turn (`stdoutTurnDestination`). */
  destination?: NodeJS.WritableStream;
}

/** One root logger per process; components take `child({ component })`. */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? DEFAULT_LOG_LEVEL;
  const opts = {
    level,
    base: { service: options.service, pid: process.pid },
    timestamp: cachedIsoTime(),
    // Redaction of REDACT_PATHS (redact.ts) on the logged object and the base bindings; the
    // bindings of children below (pino gives them no formatter).
    formatters: { level: (label: string) => ({ level: label }), log: redactSecrets, bindings: redactSecrets },
  };
  const logger = pino(opts, options.destination ?? stdoutTurnDestination());
  // Children are made with Object.create(parent): they, and theirs, inherit this child().
  const pinoChild = logger.child;
  logger.child = function child(this: Logger, bindings: Record<string, unknown>, childOptions?: unknown) {
    return pinoChild.call(this, redactSecrets(bindings), childOptions as never);
  } as Logger['child'];
  return logger;
}

/**
 * pino's `isoTime` (`,"time":"<ISO 8601>"`), made once per millisecond: lines logged in the same
 * millisecond (a busy turn) share the string instead of each formatting a Date.
 */
function cachedIsoTime(): () => string {
  let lastMs = -1;
  let last = '';
  return () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      last = `,"time":"${new Date(now).toISOString()}"`;
    }
    return last;
  };
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
