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

  /**
   * Hash per public host, next to its route hash: field = the route's path prefix, value =
   * `<client_id>/<service>` or `page:<name>` (the route's fallback while its client is offline).
   */
  fallback(host: string): string {
    return `${this.fallbackPrefix}${host}`;
  }

  get fallbackPrefix(): string {
    return `${this.prefix}fallback:`;
  }

  get fallbackScanPattern(): string {
    return `${escapeGlob(this.fallbackPrefix)}*`;
  }

  /** The host named by a fallback key, or undefined if `key` is not one. */
  hostOfFallbackKey(key: string): string | undefined {
    return key.startsWith(this.fallbackPrefix) ? key.slice(this.fallbackPrefix.length) : undefined;
  }

  /** Hash per static fallback page: `status`, `content_type`, `body`, optional `retry_after`. */
  page(name: string): string {
    return `${this.pagePrefix}${name}`;
  }

  get pagePrefix(): string {
    return `${this.prefix}page:`;
  }

  /** Keyspace-notification channel patterns for fallback and page keys on database `db`. */
  fallbackKeyspacePatterns(db: number): string[] {
    return [`__keyspace@${db}__:${escapeGlob(this.fallbackPrefix)}*`, `__keyspace@${db}__:${escapeGlob(this.pagePrefix)}*`];
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

  /** Keyspace-notification channel pattern for client keys on database `db`. */
  clientKeyspacePattern(db: number): string {
    return `__keyspace@${db}__:${escapeGlob(this.prefix)}client:*`;
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

  /**
   * Hash per live agent instance (replica) of a client: `hub`, `epoch`, `connected_at`, `remote`;
   * TTL refreshed by the owning hub. Ids match ID_PATTERN (no `:`), so the key is unambiguous.
   */
  instance(clientId: string, instanceId: string): string {
    return `${this.prefix}instance:${clientId}:${instanceId}`;
  }

  /** Set per client: the instance ids that may have a live `instance` record (pruned on lookup); TTL refreshed by the hubs. */
  instances(clientId: string): string {
    return `${this.prefix}instances:${clientId}`;
  }

  /** Prefix of the instance keys of `clientId` (`instance(clientId, id)` = this + id). */
  instancePrefix(clientId: string): string {
    return `${this.prefix}instance:${clientId}:`;
  }

  get instancesScanPattern(): string {
    return `${escapeGlob(this.prefix)}instances:*`;
  }

  clientIdOfInstancesKey(key: string): string | undefined {
    const p = `${this.prefix}instances:`;
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

  /**
   * Hash per certificate name (an exact host): `chain_pem`, `key_pem`, `not_before`,
   * `not_after`, `issuer`, `serial`, `status`, `last_error`, `updated_at`, ... (docs/redis.md).
   */
  cert(name: string): string {
    return `${this.prefix}cert:${name}`;
  }

  get certPrefix(): string {
    return `${this.prefix}cert:`;
  }

  get certScanPattern(): string {
    return `${escapeGlob(this.certPrefix)}*`;
  }

  /** The name of a certificate key, or undefined if `key` is not one. */
  nameOfCertKey(key: string): string | undefined {
    return key.startsWith(this.certPrefix) ? key.slice(this.certPrefix.length) : undefined;
  }

  /** Lock held by the cert-manager replica that runs the order for `name` (string: owner id; PX expiry). */
  certLock(name: string): string {
    return `${this.prefix}cert-lock:${name}`;
  }

  /** The ACME account (hash: `key_pem`, `url`, `directory`, `email`). */
  get acmeAccount(): string {
    return `${this.prefix}acme:account`;
  }

  /** HTTP-01 key authorization for `token` (string, with a TTL), served by every ingress replica. */
  acmeHttp01(token: string): string {
    return `${this.prefix}acme:http01:${token}`;
  }

  /** TLS-ALPN-01 certificate for `name` (hash: `cert_pem`, `key_pem`; with a TTL), served by every ingress replica. */
  acmeTlsAlpn01(name: string): string {
    return `${this.prefix}acme:tlsalpn01:${name}`;
  }

  /** BullMQ's prefix for the cert-manager queue (BullMQ builds `<prefix>:<queue>:...` itself). */
  get bullPrefix(): string {
    return `${this.prefix}bull`;
  }

  /** Keyspace-notification channel pattern for route keys on database `db`. */
  routeKeyspacePattern(db: number): string {
    return `__keyspace@${db}__:${escapeGlob(this.routePrefix)}*`;
  }

  /** The key a keyspace-notification channel of database `db` is about, or undefined. */
  keyOfKeyspaceChannel(db: number, channel: string): string | undefined {
    const p = `__keyspace@${db}__:`;
    return channel.startsWith(p) ? channel.slice(p.length) : undefined;
  }
}

/** Escapes Redis glob metacharacters so a literal prefix can head a pattern. */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, (ch) => `\\${ch}`);
}
