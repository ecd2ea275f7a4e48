import { Redis, type RedisOptions } from 'ioredis';
import { readPemCertificates, redactUrl, type RedisConnectionConfig } from '@hopgate/config';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';
import { silentLogger, type Logger } from '@hopgate/log';
import { isRedisLoginRefusal } from './redis-replies.js';

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
  const redis = new Redis(config.redisUrl, {
    ...options.options,
    ...redisTlsOptions(config),
    connectionName: options.name,
  });
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
    const where = redactUrl(config.redisUrl);
    if (isRedisLoginRefusal(cause)) {
      throw new HopError(ErrorCode.AuthFailed, `Redis at ${where} refused the login: ${errorMessageOf(cause)} (check the user and password in HOPGATE_REDIS_URL)`, { cause });
    }
    throw new HopError(ErrorCode.Closed, `cannot connect to Redis at ${where}: ${errorMessageOf(cause)}`, { cause });
  } finally {
    redis.off('error', remember);
  }
  return redis;
}

function watchRedis(redis: Redis, config: RedisConnectionConfig, options: RedisConnectionOptions): void {
  const log = (options.logger ?? silentLogger()).child({ component: 'redis', redis: redactUrl(config.redisUrl), connection: options.name });
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
