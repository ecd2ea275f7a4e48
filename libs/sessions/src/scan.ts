import type { Redis } from 'ioredis';

/** COUNT hint for each SCAN call. */
export const SCAN_COUNT = 1000;

/** Every key matching `pattern` (SCAN MATCH), deduplicated and sorted. */
export async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    for (const key of batch) found.add(key);
    cursor = next;
  } while (cursor !== '0');
  return [...found].sort();
}
