import { Redis, type RedisOptions } from 'ioredis';
import { readPemCertificates, redactUrl, type RedisConnectionConfig } from '@hopgate/config';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';
import { silentLogger, type Logger } from '@hopgate/log';
import { isRedisLoginRefusal, redisErrorCode } from './redis-replies.js';

/** Sentinel: pause before asking the sentinels again once none answered, in ms (grows by this per attempt, capped below). */
export const SENTINEL_RETRY_STEP_MS = 100;
/** Sentinel: longest pause between two rounds of asking the sentinels, in ms. */
export const SENTINEL_RETRY_MAX_DELAY_MS = 2_000;
/** Sentinel: a sentinel that does not answer within this time is skipped for the next one, in ms. */
export const SENTINEL_COMMAND_TIMEOUT_MS = 1_000;
/** A service waiting at start for an unreachable Redis logs it at most once per this interval, in ms. */
export const START_WAIT_LOG_INTERVAL_MS = 5_000;
/**
 * Data path (the ingress's and the hub's main connection): a Redis command that got no answer
 * within this time fails, in ms (a hung or partitioned server must not hold a request or a TLS
 * handshake for seconds).
 */
export const DATA_PATH_COMMAND_TIMEOUT_MS = 1_000;

/**
 * The ioredis behaviour of a connection on a request's path: no offline queue (a command while
 * disconnected fails at once instead of waiting for a reconnect), no resend after a reconnect,
 * and DATA_PATH_COMMAND_TIMEOUT_MS. Callers serve from what they cached when a command fails.
 */
export const DATA_PATH_REDIS_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: DATA_PATH_COMMAND_TIMEOUT_MS,
};

export interface RedisConnectionOptions {
  /**
   * CLIENT SETNAME of the connection (`hopgate-ingress`, `hopgate-routes`, ...): shown by
   * CLIENT LIST and in the entries of Redis's ACL LOG.
   */
  name: string;
  /** Connection errors are logged here (first of an outage at warn, the rest at debug); default silent. */
  logger?: Logger;
  /**
   * ioredis behaviour options (retries, offline queue, timeouts, lazyConnect). The server, the
   * credentials and TLS always come from the configuration.
   */
  options?: RedisOptions;
  /**
   * connectRedis only: while the server (or every sentinel) cannot be reached, keep trying
   * (ioredis's retryStrategy) and log a warning naming it at most every
   * START_WAIT_LOG_INTERVAL_MS, instead of rejecting. A refused login still rejects. Default false.
   */
  waitUntilReachable?: boolean;
}

/**
 * The ioredis options that name the server: HOPGATE_REDIS_URL's, or with Sentinel the
 * sentinels and the monitored name, with the URL's user, password, database and TLS. A
 * failover is followed: ioredis asks the sentinels again on every reconnect, the
 * `+switch-master` event makes it reconnect at once (failoverDetector), and a write refused
 * with READONLY (a demoted primary) does too.
 */
export function redisServerOptions(config: RedisConnectionConfig): RedisOptions {
  const sentinel = config.redisSentinel;
  if (sentinel === undefined) return { ...redisTlsOptions(config) };
  const url = new URL(config.redisUrl);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  const tls = redisTlsOptions(config).tls;
  return {
    sentinels: sentinel.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: sentinel.name,
    role: 'master',
    ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
    ...(sentinel.password !== undefined ? { sentinelPassword: sentinel.password } : {}),
    db,
    ...(tls !== undefined ? { tls, enableTLSForSentinelMode: true } : {}),
    ...(sentinel.tls && tls !== undefined ? { sentinelTLS: tls } : {}),
    sentinelRetryStrategy: (attempt: number) => Math.min(attempt * SENTINEL_RETRY_STEP_MS, SENTINEL_RETRY_MAX_DELAY_MS),
    sentinelCommandTimeout: SENTINEL_COMMAND_TIMEOUT_MS,
    failoverDetector: true,
    // A primary demoted under the connection answers writes with READONLY: reconnect (via the sentinels) and resend.
    reconnectOnError: (err: Error) => (redisErrorCode(err) === 'READONLY' ? 2 : false),
  };
}

/** Where the connection goes, for log lines and messages (no password). */
export function redisLocation(config: RedisConnectionConfig): string {
  const sentinel = config.redisSentinel;
  if (sentinel === undefined) return redactUrl(config.redisUrl);
  return `sentinel ${sentinel.name} via ${sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
}

/**
 * The ioredis options for the configured server: `rediss://` gets TLS with
 * HOPGATE_REDIS_CA_FILE (else the system roots); the user and password come from the URL.
 */
export function redisTlsOptions(config: RedisConnectionConfig): Pick<RedisOptions, 'tls'> {
  if (!config.redisUrl.startsWith('rediss://')) return {};
  if (config.redisCaFile === undefined) return { tls: {} };
  return { tls: { ca: readPemCertificates(config.redisCaFile, 'HOPGATE_REDIS_CA_FILE') } };
}

/**
 * A Redis connection to the configured server (the one way HopGate makes one). Connection
 * errors are logged once per outage at warn (with the redacted URL), repeats at debug, and
 * the recovery at info. Not connected yet unless `options.lazyConnect` is false (ioredis's
 * default); see connectRedis for a connection that must work before a service starts.
 */
export function createRedis(config: RedisConnectionConfig, options: RedisConnectionOptions): Redis {
  const settings: RedisOptions = { ...options.options, ...redisServerOptions(config), connectionName: options.name };
  // A caller that must fail fast (the CLI) may shorten the search for the primary too.
  if (options.options?.sentinelRetryStrategy !== undefined) settings.sentinelRetryStrategy = options.options.sentinelRetryStrategy;
  const redis = config.redisSentinel === undefined ? new Redis(config.redisUrl, settings) : new Redis(settings);
  watchRedis(redis, config, options);
  return redis;
}

/**
 * createRedis, connected: resolves once the server accepted the login (and the ready check).
 * Rejects with a clear HopError when it did not: ERR_AUTH_FAILED for a refused login (wrong
 * password, disabled or unknown user), ERR_CLOSED when the server cannot be reached; the
 * connection is closed then.
 */
export async function connectRedis(config: RedisConnectionConfig, options: RedisConnectionOptions): Promise<Redis> {
  const redis = createRedis(config, { ...options, options: { ...options.options, lazyConnect: true } });
  if (options.waitUntilReachable === true) return waitReachable(redis, config, options);
  let lastError: unknown;
  const remember = (err: unknown): void => {
    lastError = err;
  };
  redis.on('error', remember);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    const cause = lastError ?? err;
    const where = redisLocation(config);
    if (isRedisLoginRefusal(cause)) {
      throw new HopError(ErrorCode.AuthFailed, `Redis at ${where} refused the login: ${errorMessageOf(cause)} (check the user and password in HOPGATE_REDIS_URL)`, { cause });
    }
    throw new HopError(ErrorCode.Closed, `cannot connect to Redis at ${where}: ${errorMessageOf(cause)}`, { cause });
  } finally {
    redis.off('error', remember);
  }
  return redis;
}

/**
 * Resolves once `redis` is ready, however long the server stays unreachable (ioredis retries per
 * its retryStrategy); a warning names the server at most every START_WAIT_LOG_INTERVAL_MS.
 * Rejects (and closes the connection) when the server refused the login.
 */
function waitReachable(redis: Redis, config: RedisConnectionConfig, options: RedisConnectionOptions): Promise<Redis> {
  const log = (options.logger ?? silentLogger()).child({ component: 'redis', connection: options.name });
  const where = redisLocation(config);
  const since = Date.now();
  let lastLogAt = 0;
  return new Promise<Redis>((resolve, reject) => {
    const onError = (err: Error): void => {
      if (isRedisLoginRefusal(err)) {
        cleanup();
        redis.disconnect();
        reject(new HopError(ErrorCode.AuthFailed, `Redis at ${where} refused the login: ${errorMessageOf(err)} (check the user and password in HOPGATE_REDIS_URL)`, { cause: err }));
        return;
      }
      const now = Date.now();
      if (now - lastLogAt < START_WAIT_LOG_INTERVAL_MS) return;
      lastLogAt = now;
      log.warn({ redis: where, err: errorMessageOf(err), waited_ms: now - since }, `waiting for Redis at ${where}: not reachable yet, retrying`);
    };
    const onReady = (): void => {
      cleanup();
      if (lastLogAt > 0) log.info({ redis: where, waited_ms: Date.now() - since }, 'Redis reachable: starting');
      resolve(redis);
    };
    const cleanup = (): void => {
      redis.off('error', onError);
      redis.off('ready', onReady);
    };
    redis.on('error', onError);
    redis.once('ready', onReady);
    // A failed first attempt is retried by ioredis itself; the 'error' events tell why.
    redis.connect().catch(() => undefined);
  });
}

function watchRedis(redis: Redis, config: RedisConnectionConfig, options: RedisConnectionOptions): void {
  const log = (options.logger ?? silentLogger()).child({ component: 'redis', redis: redisLocation(config), connection: options.name });
  let failing = false;
  redis.on('error', (err: Error) => {
    const fields = { err: errorMessageOf(err) };
    if (failing) {
      log.debug(fields, 'redis connection error');
      return;
    }
    failing = true;
    if (isRedisLoginRefusal(err)) log.error(fields, 'redis refused the login: check the user and password in HOPGATE_REDIS_URL');
    else log.warn(fields, 'redis connection error');
  });
  redis.on('ready', () => {
    if (!failing) return;
    failing = false;
    log.info('redis connection ready again');
  });
}
