import fs from 'node:fs';
import os from 'node:os';
import crypto from 'node:crypto';
import { HopError, ErrorCode } from '@hopgate/errors';
import { AddressSet } from '@hopgate/net-address';
import { parseHostPort, type ListenAddress } from './listen-address.js';
import { ServiceSettings, processEnv } from './sources.js';
import { parseCookieSecrets } from './cookie-secret.js';
import { redisConnectionConfig, natsConnectionConfig, type RedisConnectionConfig, type NatsConnectionConfig } from './bus-config.js';
import * as D from './defaults.js';

/** The process lifecycle settings of every service: ops listener and drain (docs/operations.md "Health, readiness and drain"). */
export interface LifecycleConfig {
  /** HOPGATE_OPS_LISTEN: address of /healthz and /readyz; undefined when set to `off`. */
  opsListen: ListenAddress | undefined;
  /** HOPGATE_DRAIN_TIMEOUT_MS: longest drain after SIGTERM/SIGINT, in ms. */
  drainTimeoutMs: number;
  /** HOPGATE_DRAIN_DELAY_MS: readiness false to the start of the drain, in ms (the Kubernetes "preStop sleep"). */
  drainDelayMs: number;
}

/** Settings every service shares: Redis and NATS connections (with credentials and TLS), key prefix, log level, lifecycle. */
export interface CommonConfig extends RedisConnectionConfig, NatsConnectionConfig, LifecycleConfig {
  redisPrefix: string;
  logLevel: string;
}

export interface IngressConfig extends CommonConfig {
  /** HOPGATE_HTTPS_LISTEN; undefined when set to `off`. */
  httpsListen: ListenAddress | undefined;
  /** HOPGATE_HTTP_LISTEN; undefined when set to `off`. */
  httpListen: ListenAddress | undefined;
  /** HOPGATE_HTTP_MODE: `redirect` (to HTTPS) or `serve` (proxy plain HTTP too). */
  httpMode: 'redirect' | 'serve';
  /**
   * HOPGATE_TLS_CERT_FILE / HOPGATE_TLS_KEY_FILE: the default certificate, served when Redis holds
   * none for the name asked (or no name was sent). Optional: both or neither.
   */
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  /** HOPGATE_CERT_REREAD_INTERVAL_MS: period of the re-read of cached certificates from Redis. */
  certRereadIntervalMs: number;
  /** HOPGATE_INGRESS_ID; default hostname plus a random suffix (unique per process). */
  ingressId: string;
  responseTimeoutMs: number;
  routeReloadIntervalMs: number;
  ownerCacheTtlMs: number;
  /** HOPGATE_MAX_HEADER_BYTES: larger request heads get 431 (HTTP/1.1) or a stream reset (HTTP/2). */
  maxHeaderBytes: number;
  /** HOPGATE_BODY_IDLE_TIMEOUT_MS: a request body stalled this long is cancelled. */
  bodyIdleTimeoutMs: number;
  /**
   * HOPGATE_TRUSTED_PROXIES: load balancers (CIDRs, bare addresses) whose X-Forwarded-For is
   * kept and extended and whose PROXY protocol header is believed; empty by default.
   */
  trustedProxies: AddressSet;
  /**
   * HOPGATE_PROXY_PROTOCOL: both TCP listeners require a PROXY protocol v1/v2 header from a
   * peer in trustedProxies before any TLS or HTTP byte; off by default.
   */
  proxyProtocol: boolean;
  /**
   * HOPGATE_SERVER_TIMING: responses carry a `Server-Timing` header with the ingress's time to the
   * response head, the local service's time (measured by the agent) and the tunnel's share; off
   * by default (it tells every visitor how long the origin took).
   */
  serverTiming: boolean;
  /** HOPGATE_BODY_START_TIMEOUT_MS: an announced request body with no byte this long is cancelled (408). */
  bodyStartTimeoutMs: number;
  /** HOPGATE_H2_MAX_CONCURRENT_STREAMS: SETTINGS_MAX_CONCURRENT_STREAMS per HTTP/2 connection. */
  h2MaxConcurrentStreams: number;
  /** HOPGATE_H2_MAX_RESETS_PER_WINDOW: client stream resets per connection and window before GOAWAY; 0 = no limit. */
  h2MaxResetsPerWindow: number;
  /** HOPGATE_MAX_CONNECTIONS_PER_IP: open TCP connections per client address and listener; 0 = no limit. */
  maxConnectionsPerIp: number;
  /** HOPGATE_TLS_HANDSHAKE_TIMEOUT_MS: TCP connect to completed TLS handshake, in ms. */
  tlsHandshakeTimeoutMs: number;
}

/** Limits of the hub's DTLS server; undefined leaves the DTLS server's default (docs/configuration.md). */
export interface DtlsLimitsConfig {
  /** HOPGATE_DTLS_MAX_HANDSHAKES_PER_IP: handshakes in progress per source address (IPv6: per /64). */
  maxHandshakesPerIp: number | undefined;
  /** HOPGATE_DTLS_MAX_UNAUTHENTICATED_PER_IP: handshakes plus sessions whose agent has not authenticated yet, per source address. */
  maxUnauthenticatedPerIp: number | undefined;
  /** HOPGATE_DTLS_HANDSHAKES_PER_IP_PER_S: handshakes one source address (IPv6: /64) may start per second, sustained. */
  handshakesPerIpPerS: number | undefined;
  /** HOPGATE_DTLS_HANDSHAKE_BURST_PER_IP: handshakes one source address (IPv6: /64) may start at once. */
  handshakeBurstPerIp: number | undefined;
  /** HOPGATE_DTLS_STATS_LOG_INTERVAL_MS: period of the `dtls counters` log line (only when a figure changed); 0 turns it off. */
  statsLogIntervalMs: number | undefined;
}

export interface HubConfig extends CommonConfig {
  dtlsListen: ListenAddress;
  hubId: string;
  /**
   * HOPGATE_HUB_NAME: the hub's public DNS name (lower case, no trailing dot). When set, the hub
   * serves `hopgate:cert:<name>` from Redis and the file certificate is only the fallback.
   */
  hubName: string | undefined;
  /** HOPGATE_DTLS_CERT_FILE / HOPGATE_DTLS_KEY_FILE: both or neither; required without HOPGATE_HUB_NAME. */
  dtlsCertFile: string | undefined;
  dtlsKeyFile: string | undefined;
  /** HOPGATE_CERT_REREAD_INTERVAL_MS: period of the re-read of the hub's certificate from Redis. */
  certRereadIntervalMs: number;
  sessionTtlMs: number;
  authTimeoutMs: number;
  /** HOPGATE_AGENT_IDLE_TIMEOUT_MS: an agent silent this long is disconnected. */
  agentIdleTimeoutMs: number;
  /** HOPGATE_MAX_STREAMS_PER_AGENT: requests and WebSockets in flight per agent session. */
  maxStreamsPerAgent: number;
  dtlsLimits: DtlsLimitsConfig;
  /**
   * HOPGATE_DTLS_COOKIE_SECRET: HMAC keys of the DTLS cookies, the first signs and all verify;
   * undefined: a random key per process. Never logged.
   */
  dtlsCookieSecrets: Buffer[] | undefined;
}

/** ACME challenge types the cert-manager can answer (RFC 8555 §8.3, RFC 8737). */
export const ACME_CHALLENGES = ['http-01', 'tls-alpn-01'] as const;
export type AcmeChallenge = (typeof ACME_CHALLENGES)[number];

export interface CertManagerConfig extends CommonConfig {
  /** HOPGATE_ACME_DIRECTORY: the ACME server's directory URL (https://...). */
  acmeDirectory: string;
  /** HOPGATE_ACME_EMAIL: contact for the ACME account (optional). */
  acmeEmail: string | undefined;
  /** HOPGATE_ACME_CHALLENGE: `http-01` (default) or `tls-alpn-01`. */
  acmeChallenge: AcmeChallenge;
  /** HOPGATE_ACME_CA_FILE: PEM trusted for the ACME server's HTTPS, besides the system roots. */
  acmeCaFile: string | undefined;
  /** HOPGATE_ACME_DOMAINS: extra names to certify (lower case, deduplicated). */
  acmeDomains: string[];
  /** HOPGATE_HUB_NAME: the hub's public DNS name, certified too. */
  hubName: string | undefined;
  /** HOPGATE_ACME_CACHE_DIR: mirror every issued certificate to `<dir>/<name>/{fullchain,privkey}.pem`. */
  acmeCacheDir: string | undefined;
  /** HOPGATE_ACME_RENEW_CHECK_INTERVAL_MS: period of the renewal scheduler. */
  renewCheckIntervalMs: number;
  /** HOPGATE_ACME_RETRY_BASE_MS: first retry delay after a failed order. */
  retryBaseMs: number;
  /** HOPGATE_ACME_POLL_MIN_MS: first delay between polls of a pending challenge or order. */
  pollMinMs: number;
  /** HOPGATE_CERT_MANAGER_ID: names this replica in locks and logs; default hostname plus a random suffix. */
  replicaId: string;
}

export interface CliConfig extends RedisConnectionConfig {
  redisPrefix: string;
  /** True when neither HOPGATE_REDIS_URL nor HOPGATE_REDIS_SENTINELS is set: the CLI says which Redis it uses. */
  redisUrlIsDefault: boolean;
}

/** Smallest accepted HOPGATE_MAX_HEADER_BYTES, in bytes: below it ordinary browser requests fail. */
export const MIN_HEADER_BYTES = 1024;
/**
 * Largest accepted HOPGATE_MAX_HEADER_BYTES, in bytes. The relay carries a request head of at
 * most 64 KiB once encoded (MAX_HEAD_BYTES in libs/relay): the head as JSON pairs plus the
 * forwarding headers and the routing envelope. 48 KiB leaves that room for ordinary heads; a
 * head that still grows past 64 KiB (many tiny fields, obs-text bytes) is answered 431 by the
 * ingress, which measures the encoded head before it sends it.
 */
export const MAX_HEADER_BYTES_LIMIT = 48 * 1024;

type Env = Readonly<Record<string, string | undefined>>;

function common(s: ServiceSettings): CommonConfig {
  return {
    ...redisConnectionConfig(s),
    ...natsConnectionConfig(s),
    ...lifecycle(s),
    redisPrefix: s.string('redis_prefix', D.DEFAULT_REDIS_PREFIX),
    logLevel: s.string('log_level', D.DEFAULT_LOG_LEVEL),
  };
}

/** HOPGATE_OPS_LISTEN, HOPGATE_DRAIN_TIMEOUT_MS, HOPGATE_DRAIN_DELAY_MS. */
function lifecycle(s: ServiceSettings): LifecycleConfig {
  return {
    opsListen: listenOrOff(s, 'ops_listen', D.DEFAULT_OPS_LISTEN),
    drainTimeoutMs: s.int('drain_timeout_ms', D.DEFAULT_DRAIN_TIMEOUT_MS),
    drainDelayMs: s.int('drain_delay_ms', D.DEFAULT_DRAIN_DELAY_MS),
  };
}

function listenOrOff(s: ServiceSettings, key: string, fallback: string): ListenAddress | undefined {
  const raw = s.string(key, fallback);
  if (raw === 'off') return undefined;
  return parseHostPort(raw, `HOPGATE_${key.toUpperCase()}`);
}

export function loadIngressConfig(env: Env = processEnv()): IngressConfig {
  const s = new ServiceSettings(env);
  const cfg: IngressConfig = {
    ...common(s),
    httpsListen: listenOrOff(s, 'https_listen', D.DEFAULT_HTTPS_LISTEN),
    httpListen: listenOrOff(s, 'http_listen', D.DEFAULT_HTTP_LISTEN),
    httpMode: s.oneOf('http_mode', ['redirect', 'serve'] as const, D.DEFAULT_HTTP_MODE),
    tlsCertFile: s.optionalString('tls_cert_file'),
    tlsKeyFile: s.optionalString('tls_key_file'),
    ingressId: s.string('ingress_id', `${os.hostname()}-${crypto.randomBytes(3).toString('hex')}`),
    responseTimeoutMs: s.int('response_timeout_ms', D.DEFAULT_RESPONSE_TIMEOUT_MS),
    routeReloadIntervalMs: s.int('route_reload_interval_ms', D.DEFAULT_ROUTE_RELOAD_INTERVAL_MS),
    ownerCacheTtlMs: s.int('owner_cache_ttl_ms', D.DEFAULT_OWNER_CACHE_TTL_MS),
    maxHeaderBytes: s.int('max_header_bytes', D.DEFAULT_MAX_HEADER_BYTES),
    bodyIdleTimeoutMs: s.int('body_idle_timeout_ms', D.DEFAULT_BODY_IDLE_TIMEOUT_MS),
    bodyStartTimeoutMs: s.int('body_start_timeout_ms', D.DEFAULT_BODY_START_TIMEOUT_MS),
    h2MaxConcurrentStreams: s.int('h2_max_concurrent_streams', D.DEFAULT_H2_MAX_CONCURRENT_STREAMS),
    h2MaxResetsPerWindow: s.int('h2_max_resets_per_window', D.DEFAULT_H2_MAX_RESETS_PER_WINDOW),
    maxConnectionsPerIp: s.int('max_connections_per_ip', D.DEFAULT_MAX_CONNECTIONS_PER_IP),
    tlsHandshakeTimeoutMs: s.int('tls_handshake_timeout_ms', D.DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS),
    certRereadIntervalMs: s.int('cert_reread_interval_ms', D.DEFAULT_CERT_REREAD_INTERVAL_MS),
    trustedProxies: trustedProxies(s),
    proxyProtocol: s.bool('proxy_protocol', D.DEFAULT_PROXY_PROTOCOL),
    serverTiming: s.bool('server_timing', D.DEFAULT_SERVER_TIMING),
  };
  if (cfg.proxyProtocol && cfg.trustedProxies.isEmpty) {
    throw new HopError(
      ErrorCode.BadConfig,
      'HOPGATE_PROXY_PROTOCOL=true needs HOPGATE_TRUSTED_PROXIES: the addresses (CIDRs) of the load balancers that send the PROXY header ' +
        '(to accept it from any peer, set HOPGATE_TRUSTED_PROXIES=0.0.0.0/0,::/0)',
    );
  }
  if (cfg.maxHeaderBytes < MIN_HEADER_BYTES) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_MAX_HEADER_BYTES must be at least ${MIN_HEADER_BYTES}, got ${cfg.maxHeaderBytes}`);
  }
  if (cfg.maxHeaderBytes > MAX_HEADER_BYTES_LIMIT) {
    throw new HopError(
      ErrorCode.BadConfig,
      `HOPGATE_MAX_HEADER_BYTES must be at most ${MAX_HEADER_BYTES_LIMIT}, got ${cfg.maxHeaderBytes}: the relay to the hubs carries request heads of at most 64 KiB once encoded`,
    );
  }
  if (cfg.bodyIdleTimeoutMs < 1) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_BODY_IDLE_TIMEOUT_MS must be at least 1');
  }
  if (cfg.bodyStartTimeoutMs < 1) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_BODY_START_TIMEOUT_MS must be at least 1');
  }
  if (cfg.tlsHandshakeTimeoutMs < 1) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_TLS_HANDSHAKE_TIMEOUT_MS must be at least 1');
  }
  if (cfg.h2MaxConcurrentStreams < 1 || cfg.h2MaxConcurrentStreams > D.MAX_H2_CONCURRENT_STREAMS_LIMIT) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_H2_MAX_CONCURRENT_STREAMS must be between 1 and ${D.MAX_H2_CONCURRENT_STREAMS_LIMIT}, got ${cfg.h2MaxConcurrentStreams}`);
  }
  requirePair(cfg.tlsCertFile, cfg.tlsKeyFile, 'HOPGATE_TLS_CERT_FILE', 'HOPGATE_TLS_KEY_FILE');
  requireRereadInterval(cfg.certRereadIntervalMs);
  const publicPorts = [cfg.httpsListen?.port, cfg.httpListen?.port].filter((port) => port !== undefined && port !== 0);
  if (cfg.opsListen && cfg.opsListen.port !== 0 && publicPorts.includes(cfg.opsListen.port)) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_OPS_LISTEN must not be a public port (${cfg.opsListen.port} is HOPGATE_HTTPS_LISTEN's or HOPGATE_HTTP_LISTEN's): the ops listener is for probes inside the cluster`);
  }
  if (!cfg.httpsListen && !cfg.httpListen) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_HTTPS_LISTEN and HOPGATE_HTTP_LISTEN are both off: nothing to serve');
  }
  return cfg;
}

/** HOPGATE_TRUSTED_PROXIES as ranges; an entry that is neither a CIDR nor an address is a config error. */
function trustedProxies(s: ServiceSettings): AddressSet {
  const list = s.list('trusted_proxies');
  const parsed = AddressSet.parse(list.length === 0 ? D.DEFAULT_TRUSTED_PROXIES : list.join(','));
  if (parsed instanceof AddressSet) return parsed;
  throw new HopError(ErrorCode.BadConfig, `HOPGATE_TRUSTED_PROXIES: "${parsed.invalidEntry}" is not an IP address or a CIDR range (e.g. 10.0.0.0/8, 2001:db8::/32)`);
}

export function loadHubConfig(env: Env = processEnv()): HubConfig {
  const s = new ServiceSettings(env);
  const certFile = s.optionalString('dtls_cert_file');
  const keyFile = s.optionalString('dtls_key_file');
  requirePair(certFile, keyFile, 'HOPGATE_DTLS_CERT_FILE', 'HOPGATE_DTLS_KEY_FILE');
  // The same parsing as the cert-manager's, so both find one `hopgate:cert:<name>`.
  const hubNameRaw = s.optionalString('hub_name');
  const hubName = hubNameRaw === undefined ? undefined : certName(hubNameRaw, 'HOPGATE_HUB_NAME');
  if (!certFile && hubName === undefined) {
    throw new HopError(
      ErrorCode.BadConfig,
      'the hub needs a certificate: set HOPGATE_HUB_NAME (certificate from Redis) or HOPGATE_DTLS_CERT_FILE and HOPGATE_DTLS_KEY_FILE',
    );
  }
  const certRereadIntervalMs = s.int('cert_reread_interval_ms', D.DEFAULT_CERT_REREAD_INTERVAL_MS);
  requireRereadInterval(certRereadIntervalMs);
  const sessionTtlMs = s.int('session_ttl_ms', D.DEFAULT_SESSION_TTL_MS);
  if (sessionTtlMs < 1000) throw new HopError(ErrorCode.BadConfig, 'HOPGATE_SESSION_TTL_MS must be >= 1000');
  const maxStreamsPerAgent = s.int('max_streams_per_agent', D.DEFAULT_MAX_STREAMS_PER_AGENT);
  if (maxStreamsPerAgent < 1 || maxStreamsPerAgent > D.MAX_STREAMS_PER_AGENT_LIMIT) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_MAX_STREAMS_PER_AGENT must be between 1 and ${D.MAX_STREAMS_PER_AGENT_LIMIT}, got ${maxStreamsPerAgent}`);
  }
  return {
    ...common(s),
    dtlsListen: parseHostPort(s.string('dtls_listen', D.DEFAULT_DTLS_LISTEN), 'HOPGATE_DTLS_LISTEN'),
    hubId: s.string('hub_id', os.hostname()),
    hubName,
    dtlsCertFile: certFile,
    dtlsKeyFile: keyFile,
    certRereadIntervalMs,
    sessionTtlMs,
    authTimeoutMs: s.int('auth_timeout_ms', D.DEFAULT_AUTH_TIMEOUT_MS),
    agentIdleTimeoutMs: s.int('agent_idle_timeout_ms', D.DEFAULT_AGENT_IDLE_TIMEOUT_MS),
    maxStreamsPerAgent,
    dtlsLimits: {
      maxHandshakesPerIp: atLeastOne(s, 'dtls_max_handshakes_per_ip'),
      maxUnauthenticatedPerIp: atLeastOne(s, 'dtls_max_unauthenticated_per_ip'),
      handshakesPerIpPerS: atLeastOne(s, 'dtls_handshakes_per_ip_per_s'),
      handshakeBurstPerIp: atLeastOne(s, 'dtls_handshake_burst_per_ip'),
      statsLogIntervalMs: s.optionalInt('dtls_stats_log_interval_ms'),
    },
    dtlsCookieSecrets: cookieSecrets(s),
  };
}

function cookieSecrets(s: ServiceSettings): Buffer[] | undefined {
  const raw = s.optionalString('dtls_cookie_secret');
  return raw === undefined ? undefined : parseCookieSecrets(raw, 'HOPGATE_DTLS_COOKIE_SECRET');
}

/** An optional limit of at least 1. */
function atLeastOne(s: ServiceSettings, key: string): number | undefined {
  const value = s.optionalInt(key);
  if (value === 0) throw new HopError(ErrorCode.BadConfig, `HOPGATE_${key.toUpperCase()} must be at least 1, got 0`);
  return value;
}

/** Both files of a certificate, or neither: one alone is a mistake worth a clear error. */
function requirePair(certFile: string | undefined, keyFile: string | undefined, certVar: string, keyVar: string): void {
  if ((certFile === undefined) !== (keyFile === undefined)) {
    const given = certFile !== undefined ? certVar : keyVar;
    const missing = certFile !== undefined ? keyVar : certVar;
    throw new HopError(ErrorCode.BadConfig, `${given} is set but ${missing} is not: set both (a file certificate) or neither (certificates from Redis only)`);
  }
}

function requireRereadInterval(ms: number): void {
  if (ms < D.MIN_CERT_REREAD_INTERVAL_MS) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_CERT_REREAD_INTERVAL_MS must be at least ${D.MIN_CERT_REREAD_INTERVAL_MS}, got ${ms}`);
  }
}

/**
 * Why `name` cannot be certified with HTTP-01 / TLS-ALPN-01, or undefined when it can:
 * a DNS host name (RFC 1035 §2.3.1, RFC 1123 §2.1), not a wildcard, not an IP address.
 */
export function certNameProblem(name: string): string | undefined {
  if (name.startsWith('*.')) return 'a wildcard name needs the DNS-01 challenge, which HopGate does not run';
  if (/^\d+(\.\d+){3}$/.test(name)) return 'an IP address cannot get a certificate from ACME here (only DNS names)';
  if (name.length === 0) return 'empty name';
  if (name.length > MAX_DNS_NAME_CHARS) return `longer than ${MAX_DNS_NAME_CHARS} characters`;
  for (const label of name.split('.')) {
    if (label.length === 0) return 'empty label';
    if (label.length > MAX_DNS_LABEL_CHARS) return `label longer than ${MAX_DNS_LABEL_CHARS} characters`;
    if (!/^[a-z0-9-]+$/.test(label)) return `label ${JSON.stringify(label)} has characters other than a-z, 0-9 and "-"`;
    if (label.startsWith('-') || label.endsWith('-')) return `label ${JSON.stringify(label)} starts or ends with "-"`;
  }
  return undefined;
}

/** Longest DNS name, in characters (RFC 1035 §2.3.4). */
const MAX_DNS_NAME_CHARS = 253;
/** Longest DNS label, in characters (RFC 1035 §2.3.4). */
const MAX_DNS_LABEL_CHARS = 63;

function certName(raw: string, variable: string): string {
  const name = raw.trim().toLowerCase().replace(/\.$/, '');
  const problem = certNameProblem(name);
  if (problem !== undefined) throw new HopError(ErrorCode.BadConfig, `${variable}: ${JSON.stringify(raw.trim())} is not a name ACME can certify: ${problem}`);
  return name;
}

export function loadCertManagerConfig(env: Env = processEnv()): CertManagerConfig {
  const s = new ServiceSettings(env);
  const directory = s.optionalString('acme_directory');
  if (directory === undefined) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_ACME_DIRECTORY is required (e.g. https://acme-v02.api.letsencrypt.org/directory)');
  }
  let url: URL;
  try {
    url = new URL(directory);
  } catch {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_ACME_DIRECTORY must be a URL, got "${directory}"`);
  }
  // RFC 8555 §6.1: ACME runs over HTTPS only.
  if (url.protocol !== 'https:') throw new HopError(ErrorCode.BadConfig, `HOPGATE_ACME_DIRECTORY must be an https:// URL, got "${directory}"`);
  const email = s.optionalString('acme_email');
  if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email)) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_ACME_EMAIL must be an e-mail address, got "${email}"`);
  }
  const caFile = s.optionalString('acme_ca_file');
  if (caFile !== undefined && !fs.existsSync(caFile)) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_ACME_CA_FILE: no such file ${caFile}`);
  }
  const domains = (s.optionalString('acme_domains') ?? '')
    .split(',')
    .filter((d) => d.trim() !== '')
    .map((d) => certName(d, 'HOPGATE_ACME_DOMAINS'));
  const hubRaw = s.optionalString('hub_name');
  const renewCheckIntervalMs = s.int('acme_renew_check_interval_ms', D.DEFAULT_ACME_RENEW_CHECK_INTERVAL_MS);
  if (renewCheckIntervalMs < MIN_ACME_INTERVAL_MS) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_ACME_RENEW_CHECK_INTERVAL_MS must be at least ${MIN_ACME_INTERVAL_MS}, got ${renewCheckIntervalMs}`);
  }
  const retryBaseMs = s.int('acme_retry_base_ms', D.DEFAULT_ACME_RETRY_BASE_MS);
  if (retryBaseMs < MIN_ACME_INTERVAL_MS) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_ACME_RETRY_BASE_MS must be at least ${MIN_ACME_INTERVAL_MS}, got ${retryBaseMs}`);
  }
  const pollMinMs = s.int('acme_poll_min_ms', D.DEFAULT_ACME_POLL_MIN_MS);
  if (pollMinMs < MIN_ACME_INTERVAL_MS) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_ACME_POLL_MIN_MS must be at least ${MIN_ACME_INTERVAL_MS}, got ${pollMinMs}`);
  }
  return {
    ...common(s),
    acmeDirectory: directory,
    acmeEmail: email,
    acmeChallenge: s.oneOf('acme_challenge', ACME_CHALLENGES, D.DEFAULT_ACME_CHALLENGE),
    acmeCaFile: caFile,
    acmeDomains: [...new Set(domains)],
    hubName: hubRaw === undefined ? undefined : certName(hubRaw, 'HOPGATE_HUB_NAME'),
    acmeCacheDir: s.optionalString('acme_cache_dir'),
    renewCheckIntervalMs,
    retryBaseMs,
    pollMinMs,
    replicaId: s.string('cert_manager_id', `${os.hostname()}-${crypto.randomBytes(3).toString('hex')}`),
  };
}

/** Smallest accepted cert-manager interval (check, retry, poll), in ms. */
export const MIN_ACME_INTERVAL_MS = 10;

export function loadCliConfig(env: Env = processEnv()): CliConfig {
  const s = new ServiceSettings(env);
  return {
    ...redisConnectionConfig(s),
    redisPrefix: s.string('redis_prefix', D.DEFAULT_REDIS_PREFIX),
    redisUrlIsDefault: s.get('redis_url') === undefined && s.get('redis_sentinels') === undefined,
  };
}
