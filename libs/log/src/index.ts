export { createLogger, silentLogger, lazyChild, REDACT_PATHS, DEFAULT_LOG_LEVEL } from './logger.js';
export type { Logger, LoggerOptions } from './logger.js';
export { containedCallback } from './contained.js';
export { ThrottledLog, MAX_THROTTLED_KINDS } from './throttled-log.js';
