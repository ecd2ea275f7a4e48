/**
 * Every Redis key HopGate reads or writes is built here and nowhere else.
 * The layout is a public interface: see docs/redis.md.
 */
export const DEFAULT_REDIS_PREFIX = 'hopgate:';

export class RedisKeys {
  constructor(readonly prefix: string = DEFAULT_REDIS_PREFIX) {}

  /** Hash per public host: field = path prefix, value = `<client_id>/<service>`. */
  route(host: string): string {
    return `${this.prefix}route:${host}`;
  }

  /** Prefix shared by all route keys (for SCAN MATCH and keyspace filtering). */
  get routePrefix(): string {
    return `${this.prefix}route:`;
  }

  /** SCAN pattern for all route keys. `*` inside a host key is escaped by the caller's SCAN only via this prefix. */
  get routeScanPattern(): string {
    return `${escapeGlob(this.routePrefix)}*`;
  }

  /** The host named by a route key, or undefined if `key` is not a route key. */
  hostOfRouteKey(key: string): string | undefined {
    return key.startsWith(this.routePrefix) ? key.slice(this.routePrefix.length) : undefined;
  }

  /** Hash per client: `token_sha256`. */
  client(clientId: string): string {
    return `${this.prefix}client:${clientId}`;
  }

  get clientScanPattern(): string {
    return `${escapeGlob(this.prefix)}client:*`;
  }

  clientIdOfKey(key: string): string | undefined {
    const p = `${this.prefix}client:`;
    return key.startsWith(p) ? key.slice(p.length) : undefined;
  }

  /** Hash per client with a live session: `hub`, `epoch`, `connected_at`, `remote`; TTL refreshed by the owner. */
  session(clientId: string): string {
    return `${this.prefix}session:${clientId}`;
  }

  get sessionScanPattern(): string {
    return `${escapeGlob(this.prefix)}session:*`;
  }

  clientIdOfSessionKey(key: string): string | undefined {
    const p = `${this.prefix}session:`;
    return key.startsWith(p) ? key.slice(p.length) : undefined;
  }

  /** Cluster-wide counter that hands out session epochs; only grows. */
  get sessionEpochCounter(): string {
    return `${this.prefix}session-epoch`;
  }

  /** Hub registry entry (hash: `nats_subject`, `started_at`, `dtls_listen`), TTL refreshed by the hub. */
  hub(hubId: string): string {
    return `${this.prefix}hub:${hubId}`;
  }

  get hubScanPattern(): string {
    return `${escapeGlob(this.prefix)}hub:*`;
  }

  /** Keyspace-notification channel pattern for route keys on database `db`. */
  routeKeyspacePattern(db: number): string {
    return `__keyspace@${db}__:${escapeGlob(this.routePrefix)}*`;
  }
}

/** Escapes Redis glob metacharacters so a literal prefix can head a pattern. */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, (ch) => `\\${ch}`);
}
