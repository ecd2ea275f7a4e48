export { createLogger, silentLogger, lazyChild, DEFAULT_LOG_LEVEL } from './logger.js';
export { REDACT_PATHS, REDACT_CENSOR, SECRET_FIELDS, SECRET_HEADERS, redactSecrets } from './redact.js';
export { TurnBufferedDestination, stdoutTurnDestination, FLUSH_AT_BYTES, MAX_PENDING_BYTES, FULL_PIPE_RETRY_MS, EXIT_FLUSH_MAX_MS } from './turn-buffered-destination.js';
export type { Logger, LoggerOptions } from './logger.js';
export { containedCallback } from './contained.js';
export { ThrottledLog, MAX_THROTTLED_KINDS } from './throttled-log.js';
