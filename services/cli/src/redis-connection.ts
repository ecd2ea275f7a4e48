import { Redis } from 'ioredis';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';

/** How long the CLI waits for Redis to accept its connection. */
export const CLI_CONNECT_TIMEOUT_MS = 3_000;

/** The URL with any password replaced, for messages. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable HOPGATE_REDIS_URL)';
  }
}

/** One connection that fails fast: no retries, no offline queue. */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: CLI_CONNECT_TIMEOUT_MS,
    connectionName: 'hopgate-cli',
  });
  let lastError: unknown;
  redis.on('error', (err: unknown) => (lastError = err));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new HopError(ErrorCode.Closed, `cannot connect to Redis at ${redactRedisUrl(url)}: ${errorMessageOf(lastError ?? err)}`, {
      cause: err,
    });
  }
  return redis;
}
