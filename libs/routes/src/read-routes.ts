import type { Redis } from 'ioredis';
import { ReplyError } from 'ioredis';
import type { RedisKeys } from '@hopgate/keys';
import type { RawRouteEntry, RouteEntryError } from './route-entry.js';

/** COUNT hint for each SCAN call while listing route keys. */
export const ROUTE_SCAN_COUNT = 1000;

export interface RouteSnapshot {
  readonly entries: RawRouteEntry[];
  /** Keys under the route prefix that are not hashes (WRONGTYPE). */
  readonly errors: RouteEntryError[];
}

/** Every route key (SCAN MATCH), deduplicated and sorted. */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', ROUTE_SCAN_COUNT);
    for (const key of batch) found.add(key);
    cursor = next;
  } while (cursor !== '0');
  return [...found].sort();
}

/**
 * Reads the whole route tree: SCAN MATCH the route keys, then HGETALL each in one pipeline.
 * Not a point-in-time snapshot across keys (neither is an operator's sequence of HSETs).
 * Throws when Redis cannot be read; a key of the wrong type is reported, not thrown.
 */
export async function readRouteEntries(redis: Redis, keys: RedisKeys): Promise<RouteSnapshot> {
  const routeKeys = await scanKeys(redis, keys.routeScanPattern);
  const entries: RawRouteEntry[] = [];
  const errors: RouteEntryError[] = [];
  if (routeKeys.length === 0) return { entries, errors };
  const pipeline = redis.pipeline();
  for (const key of routeKeys) pipeline.hgetall(key);
  const results = (await pipeline.exec()) ?? [];
  routeKeys.forEach((key, i) => {
    const [err, hash] = results[i] ?? [new Error('missing pipeline reply'), null];
    if (err) {
      if (err instanceof ReplyError) {
        errors.push({ key, reason: `HGETALL refused (a route key must be a hash): ${(err as Error).message}` });
        return;
      }
      throw err;
    }
    const host = keys.hostOfRouteKey(key);
    if (host === undefined) return;
    for (const [field, value] of Object.entries(hash as Record<string, string>)) {
      entries.push({ key, host, field, value });
    }
  });
  return { entries, errors };
}
