export { installCrashHandlers, CRASH_EXIT_CODE } from './crash-handlers.js';
export {
  runService,
  BAD_CONFIG_EXIT_CODE,
  START_FAILED_EXIT_CODE,
  FAILED_START_CLEANUP_TIMEOUT_MS,
  DRAIN_OVERRUN_MARGIN_MS,
  type RunnableService,
  type RunServiceOptions,
} from './run-service.js';
export {
  createRedis,
  connectRedis,
  redisTlsOptions,
  redisServerOptions,
  redisLocation,
  DATA_PATH_REDIS_OPTIONS,
  DATA_PATH_COMMAND_TIMEOUT_MS,
  START_WAIT_LOG_INTERVAL_MS,
  SENTINEL_RETRY_STEP_MS,
  SENTINEL_RETRY_MAX_DELAY_MS,
  SENTINEL_COMMAND_TIMEOUT_MS,
  type RedisConnectionOptions,
} from './redis-connection.js';
export { redisErrorCode, isRedisLoginRefusal, isRedisPermissionRefusal } from './redis-replies.js';
export {
  connectNats,
  natsConnectOptions,
  NATS_RECONNECT_TIME_WAIT_MS,
  NATS_PING_INTERVAL_MS,
  NATS_MAX_PINGS_OUT,
  NATS_CONNECT_TIMEOUT_MS,
  awayFromLastDialed,
  NATS_START_RETRY_INTERVAL_MS,
  NATS_START_WAIT_LOG_INTERVAL_MS,
  type NatsConnectionOptions,
} from './nats-connection.js';
export { ViolationLog, PERMISSION_VIOLATION_LOG_INTERVAL_MS } from './violation-log.js';
export { OpsServer, sendOpsJson, OPS_HEADERS_TIMEOUT_MS, OPS_KEEP_ALIVE_TIMEOUT_MS, type OpsRoute, type OpsServerOptions } from './ops-server.js';
export { LoopMonitor, LOOP_PROBE_INTERVAL_MS, LOOP_BLOCKED_BOUND_MS, LOOP_BLOCK_MEMORY_MS, type LoopHealth, type LoopMonitorOptions } from './loop-monitor.js';
export { ServiceLifecycle, addProbeRoutes, type LifecyclePhase, type ReadinessSource } from './service-lifecycle.js';
export { READY, notReady, firstNotReady, type Readiness } from './readiness.js';
export { redisReadiness, natsReadiness } from './bus-readiness.js';
export { addMetricsRoute, METRICS_PATH } from './metrics-route.js';
