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
