export { installCrashHandlers, CRASH_EXIT_CODE } from './crash-handlers.js';
export { runService, BAD_CONFIG_EXIT_CODE, START_FAILED_EXIT_CODE, FAILED_START_CLEANUP_TIMEOUT_MS, type RunnableService, type RunServiceOptions } from './run-service.js';
