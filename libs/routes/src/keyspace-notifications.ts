import type { Redis } from 'ioredis';
import { ReplyError } from 'ioredis';

/**
 * Whether the Redis server publishes keyspace events for hash commands:
 * `on`: notify-keyspace-events has `K` and `h` (or `A`, which includes `h`);
 * `off`: it has not (routes are then applied by the periodic re-read);
 * `unknown`: CONFIG GET was refused (renamed, disabled or denied by an ACL).
 * The service only reads this setting; it never runs CONFIG SET on a shared Redis.
 */
export type KeyspaceNotifications = 'on' | 'off' | 'unknown';

/** Whether a notify-keyspace-events flag string announces hash-key events on `__keyspace@...`. */
export function flagsAnnounceHashEvents(flags: string): boolean {
  return flags.includes('K') && (flags.includes('A') || flags.includes('h'));
}

/** Reads notify-keyspace-events. Throws only when Redis cannot be reached. */
export async function checkKeyspaceNotifications(redis: Redis): Promise<KeyspaceNotifications> {
  let reply: unknown;
  try {
    reply = await redis.config('GET', 'notify-keyspace-events');
  } catch (err) {
    if (err instanceof ReplyError) return 'unknown';
    throw err;
  }
  if (!Array.isArray(reply) || typeof reply[1] !== 'string') return 'unknown';
  return flagsAnnounceHashEvents(reply[1]) ? 'on' : 'off';
}
