import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { errorMessageOf } from '@hopgate/errors';
import { RedisKeys } from '@hopgate/keys';
import { type Logger, silentLogger } from '@hopgate/log';
import { checkKeyspaceNotifications, openKeyspaceSubscriber, type KeyspaceNotifications } from '@hopgate/routes';

interface ClientWatcherEvents {
  /** Something happened to `hopgate:client:<clientId>` (HSET, HDEL, DEL, EXPIRE, RENAME...). */
  change: [clientId: string];
  /** The subscription (re)connected: events may have been lost meanwhile; check every client. */
  resync: [];
}

export interface ClientWatcherOptions {
  /** Key layout; default `new RedisKeys()` (prefix `hopgate:`). */
  keys?: RedisKeys;
  /** Default silentLogger(). */
  logger?: Logger;
}

/**
 * Tells a hub at once when a client key changes (a token replaced with `client add --replace`
 * or a hand-made HSET, a client removed), through Redis keyspace notifications on
 * `hopgate:client:*` when the server publishes them (notify-keyspace-events with K and h, and
 * g for DEL; or A). It only reads that setting, never sets it. Pub/sub loses events while disconnected, so
 * a reconnect emits 'resync'; when notifications are off, the owner's periodic check is the
 * only detection, and `ensureSubscribed()` (called on that period) subscribes once they are on.
 * Uses a duplicate of the caller's ioredis client for the subscription.
 */
export class ClientWatcher extends EventEmitter<ClientWatcherEvents> {
  private readonly keys: RedisKeys;
  private readonly log: Logger;
  private subscriber: Redis | undefined;
  private state: KeyspaceNotifications | 'unchecked' = 'unchecked';
  private subscribed = false;
  private stopped = false;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    options: ClientWatcherOptions = {},
  ) {
    super();
    this.keys = options.keys ?? new RedisKeys();
    this.log = (options.logger ?? silentLogger()).child({ component: 'client-watcher' });
  }

  /** Keyspace notification support as last read ('unchecked' before the first read). */
  get notifications(): KeyspaceNotifications | 'unchecked' {
    return this.state;
  }

  /** Whether the keyspace subscription is active. */
  get isSubscribed(): boolean {
    return this.subscribed;
  }

  /**
   * Reads notify-keyspace-events (unless a subscription is already open) and subscribes when
   * they may be on. Never rejects: a failure is logged and tried again on the next call.
   */
  ensureSubscribed(): Promise<void> {
    if (this.stopped || this.subscriber) return Promise.resolve();
    this.checking ??= this.check().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  stop(): void {
    this.stopped = true;
    this.subscribed = false;
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  private async check(): Promise<void> {
    let state: KeyspaceNotifications;
    try {
      state = await checkKeyspaceNotifications(this.redis);
    } catch (err) {
      this.log.debug({ err: errorMessageOf(err) }, 'cannot read notify-keyspace-events; will try again');
      return;
    }
    const changed = state !== this.state;
    this.state = state;
    if (state === 'off') {
      if (changed) this.log.info('keyspace notifications are off: token changes are noticed by the periodic session check only (set notify-keyspace-events to include K, g and h for instant checks)');
      return;
    }
    this.subscribe();
  }

  private subscribe(): void {
    if (this.subscriber || this.stopped) return;
    const db = this.redis.options.db ?? 0;
    const { connection: sub, subscribed } = openKeyspaceSubscriber(this.redis, {
      pattern: this.keys.clientKeyspacePattern(db),
      connectionName: 'hopgate-hub-client-events',
      log: this.log,
      onEvent: (channel) => {
        const key = this.keys.keyOfKeyspaceChannel(db, channel);
        const clientId = key === undefined ? undefined : this.keys.clientIdOfKey(key);
        if (clientId !== undefined) this.emit('change', clientId);
      },
      // After a reconnect (ioredis re-subscribes by itself) events may have been lost.
      onReady: () => {
        if (this.subscribed) this.emit('resync');
      },
    });
    this.subscriber = sub;
    subscribed
      .then(() => {
        if (this.stopped) return;
        this.subscribed = true;
        this.log.info({ notifications: this.state }, 'watching client keys through keyspace notifications');
        // Changes between the owner's last check and the subscription would otherwise wait for its period.
        this.emit('resync');
      })
      .catch((err: unknown) => {
        this.log.warn({ err: errorMessageOf(err) }, 'keyspace subscription for client keys failed; relying on the periodic session check');
        sub.disconnect();
        if (this.subscriber === sub) this.subscriber = undefined;
      });
  }
}
