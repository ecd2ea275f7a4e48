import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { DEFAULT_ROUTE_RELOAD_INTERVAL_MS, type RedisConnectionConfig } from '@hopgate/config';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';
import { RedisKeys } from '@hopgate/keys';
import { type Logger, silentLogger } from '@hopgate/log';
import { createRedis } from '@hopgate/runtime';
import { checkKeyspaceNotifications, openKeyspaceSubscriber, type KeyspaceNotifications } from './keyspace-notifications.js';
import { readRouteEntries } from './read-routes.js';
import { ReplyError } from 'ioredis';
import { readFallbackEntries, type FallbackSnapshot } from './read-fallbacks.js';
import { FallbackTable } from './fallback-table.js';
import type { RouteEntryError, RouteMatch } from './route-entry.js';
import { isEmptyDiff, type RouteDiff } from './route-diff.js';
import { RouteTable } from './route-table.js';

/** Keyspace events are coalesced for this long after the first one, then the tree is re-read. */
export const DEFAULT_ROUTE_DEBOUNCE_MS = 50;
/** How long `start()` keeps trying to reach Redis and load the first table. */
export const DEFAULT_ROUTE_START_TIMEOUT_MS = 10_000;
/** Pause between two failed first-load attempts inside `start()`. */
export const ROUTE_START_RETRY_MS = 200;
/** Reconnect backoff: `attempt * step`, capped. */
export const ROUTE_RECONNECT_STEP_MS = 100;
export const ROUTE_RECONNECT_MAX_DELAY_MS = 2_000;
/** At most this many routes of each kind (added/removed/changed) are listed in one diff log line. */
export const MAX_DIFF_ROUTES_LOGGED = 20;

export interface RouteLoaderOptions {
  /**
   * The Redis server: `redisUrl` (`redis://[user:password@]host:port[/db]`, `rediss://` for
   * TLS) and `redisCaFile` (a service passes its config).
   */
  redis: RedisConnectionConfig;
  /** Key layout; default `new RedisKeys()` (prefix `hopgate:`). */
  keys?: RedisKeys;
  /** Full re-read period in ms, whatever the notifications say; default DEFAULT_ROUTE_RELOAD_INTERVAL_MS (2,000). 0 turns it off (not recommended). */
  reloadIntervalMs?: number;
  /** Coalescing window for keyspace events in ms; default DEFAULT_ROUTE_DEBOUNCE_MS (50). */
  debounceMs?: number;
  /** `start()` rejects when no table could be loaded within this many ms; default DEFAULT_ROUTE_START_TIMEOUT_MS (10,000). */
  startTimeoutMs?: number;
  /** Default silentLogger(). */
  logger?: Logger;
  /**
   * Also load the routes' fallbacks (`hopgate:fallback:*`, the pages they name) with every
   * read, into `fallbacks`; default false (the cert-manager needs the routes alone).
   */
  loadFallbacks?: boolean;
}

export interface RouteLoaderStatus {
  /** Keyspace notification support, once checked. */
  readonly notifications: KeyspaceNotifications | 'unchecked';
  /** Whether the keyspace subscription is active. */
  readonly subscribed: boolean;
  /** Time (ms since epoch) of the last successful full read, if any. */
  readonly lastLoadAt: number | undefined;
  /** Full reads that failed in a row since the last success (the last good table is kept meanwhile). */
  readonly consecutiveFailures: number;
  /** Number of successful full reads. */
  readonly loads: number;
}

interface RouteLoaderEvents {
  /** A new table was swapped in; `diff` is from the previous one. */
  change: [table: RouteTable, diff: RouteDiff];
}

/**
 * Keeps the route table in memory and in step with Redis (Traefik's KV provider model):
 * full load at start; on keyspace events (when the server publishes them) a debounced full
 * re-read; a full re-read every `reloadIntervalMs` and after every reconnect in any case,
 * since pub/sub loses events while disconnected. Each read is decoded, validated and
 * swapped in atomically; the diff is logged. Invalid entries are skipped and logged once
 * while they stay invalid. When Redis cannot be read, the last good table stays.
 * `start()` rejects (HopError ERR_INTERNAL) if no table could be loaded within `startTimeoutMs`.
 */
export class RouteLoader extends EventEmitter<RouteLoaderEvents> {
  private readonly keys: RedisKeys;
  private readonly reloadIntervalMs: number;
  private readonly debounceMs: number;
  private readonly startTimeoutMs: number;
  private readonly log: Logger;
  private readonly loadFallbacks: boolean;
  private readonly redis: Redis;
  private subscriber: Redis | undefined;
  private table: RouteTable = RouteTable.EMPTY;
  private fallbackTable: FallbackTable = FallbackTable.EMPTY;
  private invalid: readonly RouteEntryError[] = [];
  private invalidFallbacks: readonly RouteEntryError[] = [];
  private loggedInvalid = new Set<string>();
  private loggedInvalidFallbacks = new Set<string>();
  private notifications: KeyspaceNotifications | 'unchecked' = 'unchecked';
  private subscribed = false;
  private lastLoadAt: number | undefined;
  private consecutiveFailures = 0;
  private loads = 0;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private intervalTimer: NodeJS.Timeout | undefined;
  private lastConnectionError: string | undefined;
  private fallbacksRefused = false;
  /** The main connection came back (maybe to a new primary after a failover): read notify-keyspace-events again. */
  private notificationsUnverified = false;

  constructor(options: RouteLoaderOptions) {
    super();
    this.keys = options.keys ?? new RedisKeys();
    this.reloadIntervalMs = options.reloadIntervalMs ?? DEFAULT_ROUTE_RELOAD_INTERVAL_MS;
    this.debounceMs = options.debounceMs ?? DEFAULT_ROUTE_DEBOUNCE_MS;
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_ROUTE_START_TIMEOUT_MS;
    this.log = (options.logger ?? silentLogger()).child({ component: 'route-loader' });
    this.loadFallbacks = options.loadFallbacks ?? false;
    this.redis = createRedis(options.redis, {
      name: 'hopgate-routes',
      logger: options.logger,
      options: {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy: (attempt) => Math.min(attempt * ROUTE_RECONNECT_STEP_MS, ROUTE_RECONNECT_MAX_DELAY_MS),
      },
    });
    this.redis.on('error', (err: Error) => {
      this.lastConnectionError = err.message;
    });
    this.redis.on('ready', () => this.onReconnect('main'));
  }

  /** The current table (empty before the first load). Swapped atomically; never mutated. */
  get current(): RouteTable {
    return this.table;
  }

  /** The routes' fallbacks (empty before the first load); swapped together with `current`. */
  get fallbacks(): FallbackTable {
    return this.fallbackTable;
  }

  /** Entries skipped by the last successful read. */
  get invalidEntries(): readonly RouteEntryError[] {
    return this.invalid;
  }

  /** Fallback entries skipped by the last successful read. */
  get invalidFallbackEntries(): readonly RouteEntryError[] {
    return this.invalidFallbacks;
  }

  get status(): RouteLoaderStatus {
    return {
      notifications: this.notifications,
      subscribed: this.subscribed,
      lastLoadAt: this.lastLoadAt,
      consecutiveFailures: this.consecutiveFailures,
      loads: this.loads,
    };
  }

  /** Connects, loads the whole table, then keeps it live. Resolves after the first load. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new HopError(ErrorCode.Internal, 'route loader: start() called twice');
    this.state = 'starting';
    const deadline = Date.now() + this.startTimeoutMs;
    this.redis.connect().catch(() => undefined); // ioredis keeps retrying per retryStrategy
    let lastError: unknown;
    while (this.state === 'starting') {
      try {
        await this.waitReady(deadline);
        await this.reload();
        break;
      } catch (err) {
        lastError = err;
        if (Date.now() + ROUTE_START_RETRY_MS >= deadline) {
          await this.stop();
          throw new HopError(
            ErrorCode.Internal,
            `route loader: could not load routes from Redis within ${this.startTimeoutMs} ms: ${errorMessageOf(err)}`,
            { cause: err },
          );
        }
        await delay(ROUTE_START_RETRY_MS);
      }
    }
    if (this.state !== 'starting') {
      throw new HopError(ErrorCode.Closed, 'route loader: stopped while starting', { cause: lastError });
    }
    this.state = 'running';
    if (this.reloadIntervalMs > 0) {
      this.intervalTimer = setInterval(() => void this.reload().catch(() => undefined), this.reloadIntervalMs);
      this.intervalTimer.unref();
    }
  }

  /**
   * Re-reads the whole tree now (coalesced with a read that is queued but not started).
   * Rejects when Redis cannot be read; the last good table stays.
   */
  reload(): Promise<void> {
    if (this.queued) return this.queued;
    const run = this.chain.then(() => {
      this.queued = undefined;
      return this.loadOnce();
    });
    this.queued = run;
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Stops timers and closes both connections. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    clearTimeout(this.debounceTimer);
    clearInterval(this.intervalTimer);
    this.redis.disconnect();
    this.subscriber?.disconnect();
    this.subscribed = false;
    await this.chain;
  }

  private async loadOnce(): Promise<void> {
    if (this.state === 'stopped') return;
    try {
      if (this.notifications === 'unchecked' || this.notifications === 'off' || this.notificationsUnverified) {
        this.notificationsUnverified = false;
        await this.checkNotifications();
      }
      const [snapshot, fallbackSnapshot] = await Promise.all([readRouteEntries(this.redis, this.keys), this.readFallbacks()]);
      const { table, errors } = RouteTable.build(snapshot.entries);
      const invalid = [...snapshot.errors, ...errors];
      this.loggedInvalid = this.logInvalid(invalid, this.loggedInvalid, 'invalid route entry skipped');
      this.invalid = invalid;
      let fallbacks = { table: this.fallbackTable, errors: [...this.invalidFallbacks] };
      if (fallbackSnapshot !== 'refused') {
        fallbacks = FallbackTable.build(table, fallbackSnapshot.entries, fallbackSnapshot.pages);
        const invalidFallbacks = [...fallbackSnapshot.errors, ...fallbacks.errors];
        this.loggedInvalidFallbacks = this.logInvalid(invalidFallbacks, this.loggedInvalidFallbacks, 'invalid fallback entry skipped');
        this.invalidFallbacks = invalidFallbacks;
      }
      if (this.consecutiveFailures > 0) {
        this.log.info({ failures: this.consecutiveFailures }, 'route reload recovered');
      }
      this.consecutiveFailures = 0;
      this.lastLoadAt = Date.now();
      this.loads += 1;
      this.swapFallbacks(fallbacks.table);
      this.swap(table);
    } catch (err) {
      this.consecutiveFailures += 1;
      const fields = { err: errorMessageOf(err), failures: this.consecutiveFailures, routes: this.table.size };
      if (this.consecutiveFailures === 1) this.log.warn(fields, 'route reload failed; keeping the last table');
      else this.log.debug(fields, 'route reload failed; keeping the last table');
      throw err;
    }
  }

  /**
   * The fallback tree, or 'refused' when the server refused a command (an ACL written before
   * fallbacks existed: NOPERM): the routes still load, the last fallbacks stay, logged once per
   * run of refusals. A connection error fails the whole read, as for routes.
   */
  private async readFallbacks(): Promise<FallbackSnapshot | 'refused'> {
    if (!this.loadFallbacks) return { entries: [], pages: new Map(), errors: [] };
    try {
      const snapshot = await readFallbackEntries(this.redis, this.keys);
      this.fallbacksRefused = false;
      return snapshot;
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
      if (!this.fallbacksRefused) this.log.warn({ err: errorMessageOf(err) }, 'route fallbacks cannot be read (refused by Redis); routes load without them, the last fallbacks stay');
      this.fallbacksRefused = true;
      return 'refused';
    }
  }

  /** Swapped just before the route table, in the same turn: no request sees one without the other. */
  private swapFallbacks(next: FallbackTable): void {
    const diff = this.fallbackTable.diff(next);
    this.fallbackTable = next;
    if (this.loads === 1) {
      if (next.size > 0 || this.invalidFallbacks.length > 0) this.log.info({ fallbacks: next.size, invalid: this.invalidFallbacks.length }, 'route fallbacks loaded');
      return;
    }
    if (diff.added.length === 0 && diff.removed.length === 0 && diff.changed.length === 0) return;
    this.log.info(
      {
        fallbacks: next.size,
        added: diff.added.slice(0, MAX_DIFF_ROUTES_LOGGED),
        removed: diff.removed.slice(0, MAX_DIFF_ROUTES_LOGGED),
        changed: diff.changed.slice(0, MAX_DIFF_ROUTES_LOGGED),
        added_count: diff.added.length,
        removed_count: diff.removed.length,
        changed_count: diff.changed.length,
      },
      'route fallbacks changed',
    );
  }

  private swap(next: RouteTable): void {
    const diff = this.table.diff(next);
    if (this.loads === 1) this.log.info({ routes: next.size, invalid: this.invalid.length }, 'route table loaded');
    if (isEmptyDiff(diff)) return;
    this.table = next;
    if (this.loads > 1) {
      const show = (list: readonly RouteMatch[]): string[] =>
        list.slice(0, MAX_DIFF_ROUTES_LOGGED).map((r) => `${r.route} -> ${r.clientId}/${r.service}`);
      this.log.info(
        {
          routes: next.size,
          added: show(diff.added),
          removed: show(diff.removed),
          changed: show(diff.changed.map((c) => c.after)),
          added_count: diff.added.length,
          removed_count: diff.removed.length,
          changed_count: diff.changed.length,
        },
        'route table changed',
      );
    }
    try {
      this.emit('change', next, diff);
    } catch (err) {
      this.log.error({ err: errorMessageOf(err) }, 'a route change listener threw');
    }
  }

  /** Logs each invalid entry once while it stays invalid (per key, field, value and reason); returns the new logged set. */
  private logInvalid(errors: readonly RouteEntryError[], logged: ReadonlySet<string>, message: string): Set<string> {
    const now = new Set<string>();
    for (const e of errors) {
      const signature = JSON.stringify([e.key, e.field ?? null, e.value ?? null, e.reason]);
      now.add(signature);
      if (logged.has(signature)) continue;
      this.log.warn({ redis_key: e.key, field: e.field, value: e.value, reason: e.reason }, message);
    }
    return now;
  }

  private async checkNotifications(): Promise<void> {
    const state = await checkKeyspaceNotifications(this.redis);
    if (state === this.notifications) return;
    const was = this.notifications;
    this.notifications = state;
    if (state === 'off') {
      if (was === 'on') {
        // A reconnect reached a server without them (a promoted replica configured apart from the old primary?).
        this.log.warn({ reload_interval_ms: this.reloadIntervalMs }, 'keyspace notifications are off on the server reached after a reconnect: set notify-keyspace-events (K and h) on every Redis node, replicas included');
        return;
      }
      this.log.info(
        { reload_interval_ms: this.reloadIntervalMs },
        'keyspace notifications are off: route edits apply at the next periodic re-read (set notify-keyspace-events to include K and h for instant updates)',
      );
      return;
    }
    this.log.info({ notifications: state }, 'subscribing to keyspace notifications for route keys');
    this.openSubscriber();
  }

  private openSubscriber(): void {
    if (this.subscriber || this.state === 'stopped') return;
    const { connection, subscribed } = openKeyspaceSubscriber(this.redis, {
      pattern: this.keys.routeKeyspacePattern(this.redis.options.db ?? 0),
      connectionName: 'hopgate-routes-events',
      log: this.log,
      onEvent: () => this.onKeyspaceEvent(),
      onReady: () => this.onReconnect('subscriber'),
    });
    this.subscriber = connection;
    subscribed
      .then(() => {
        this.subscribed = true;
        // Edits made between the last read and the subscription would otherwise wait for the timer.
        this.reload().catch(() => undefined);
      })
      .catch((err: unknown) => this.log.warn({ err: errorMessageOf(err) }, 'keyspace subscription failed; relying on periodic re-reads'));
    if (!this.loadFallbacks) return;
    // A PSUBSCRIBE of its own: an ACL written before fallbacks existed refuses these channels, and must not cost the routes theirs.
    connection
      .psubscribe(...this.keys.fallbackKeyspacePatterns(this.redis.options.db ?? 0))
      .catch((err: unknown) => this.log.warn({ err: errorMessageOf(err) }, 'keyspace subscription for fallback keys refused; fallback edits apply at the periodic re-read'));
  }

  private onKeyspaceEvent(): void {
    if (this.debounceTimer !== undefined || this.state === 'stopped') return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.reload().catch(() => undefined);
    }, this.debounceMs);
  }

  /** After any reconnect, pub/sub may have lost events: re-read everything. */
  private onReconnect(connection: 'main' | 'subscriber'): void {
    if (this.state !== 'running') return;
    if (connection === 'main') this.notificationsUnverified = true;
    if (connection === 'subscriber' && !this.subscribed) return;
    this.log.info({ connection }, 'redis connection ready; re-reading routes');
    this.reload().catch(() => undefined);
  }

  private waitReady(deadline: number): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        const why = this.lastConnectionError ?? `connection status ${this.redis.status}`;
        reject(new HopError(ErrorCode.Internal, `Redis not reachable: ${why}`));
      }, Math.max(0, deadline - Date.now()));
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
