import type { Redis } from 'ioredis';
import type { RedisConnectionConfig } from '@hopgate/config';
import { connectRedis as connectConfigured } from '@hopgate/runtime';

/** How long the CLI waits for Redis to accept its connection. */
export const CLI_CONNECT_TIMEOUT_MS = 3_000;

/**
 * One connection that fails fast: no retries, no offline queue. Rejects with a clear
 * HopError (ERR_AUTH_FAILED for a refused login, ERR_CLOSED when unreachable; the URL in the
 * message has its password redacted).
 */
export function connectRedis(config: RedisConnectionConfig): Promise<Redis> {
  return connectConfigured(config, {
    name: 'hopgate-cli',
    options: {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      // With Sentinel: one round over the sentinels, then give up.
      sentinelRetryStrategy: () => null,
      connectTimeout: CLI_CONNECT_TIMEOUT_MS,
    },
  });
}
