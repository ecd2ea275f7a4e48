import type { Redis } from 'ioredis';
import { ReplyError } from 'ioredis';
import type { Logger } from '@hopgate/log';

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

export interface KeyspaceSubscriberOptions {
  /** The channel pattern to PSUBSCRIBE (`__keyspace@<db>__:<key pattern>`, built in libs/keys). */
  pattern: string;
  /** CLIENT SETNAME of the subscriber connection (shows in CLIENT LIST and ACL LOG). */
  connectionName: string;
  log: Logger;
  /** A keyspace event arrived on `channel`. */
  onEvent(channel: string): void;
  /** The connection is ready (again): after a reconnect events may have been lost. ioredis re-subscribes by itself. */
  onReady(): void;
}

/**
 * A connection of its own (a duplicate of `redis`) subscribed to keyspace events: a subscribed
 * connection can run nothing else. `subscribed` settles once the server answered the PSUBSCRIBE
 * (it rejects when refused, e.g. by an ACL without the channel); the caller owns `connection`
 * and disconnects it.
 */
export function openKeyspaceSubscriber(redis: Redis, options: KeyspaceSubscriberOptions): { connection: Redis; subscribed: Promise<void> } {
  const connection = redis.duplicate({
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    lazyConnect: false,
    connectionName: options.connectionName,
  });
  connection.on('error', (err: Error) => options.log.debug({ err: err.message }, 'redis subscriber connection error'));
  connection.on('ready', () => options.onReady());
  connection.on('pmessage', (_pattern: string, channel: string) => options.onEvent(channel));
  return { connection, subscribed: connection.psubscribe(options.pattern).then(() => undefined) };
}
