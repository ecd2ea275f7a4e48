export { installCrashHandlers, CRASH_EXIT_CODE } from './crash-handlers.js';
export { runService, BAD_CONFIG_EXIT_CODE, START_FAILED_EXIT_CODE, FAILED_START_CLEANUP_TIMEOUT_MS, type RunnableService, type RunServiceOptions } from './run-service.js';
export { createRedis, connectRedis, redisTlsOptions, type RedisConnectionOptions } from './redis-connection.js';
export { redisErrorCode, isRedisLoginRefusal, isRedisPermissionRefusal } from './redis-replies.js';
export {
  connectNats,
  natsConnectOptions,
  NATS_RECONNECT_TIME_WAIT_MS,
  NATS_PING_INTERVAL_MS,
  NATS_MAX_PINGS_OUT,
  NATS_CONNECT_TIMEOUT_MS,
  awayFromLastDialed,
  type NatsConnectionOptions,
} from './nats-connection.js';
export { ViolationLog, PERMISSION_VIOLATION_LOG_INTERVAL_MS } from './violation-log.js';
