import os from 'node:os';
import crypto from 'node:crypto';
import { HopError, ErrorCode } from '@hopgate/errors';
import { parseHostPort, type ListenAddress } from './listen-address.js';
import { ServiceSettings, processEnv } from './sources.js';
import * as D from './defaults.js';

export interface CommonConfig {
  redisUrl: string;
  redisPrefix: string;
  natsUrl: string;
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
}

export interface CliConfig {
  redisUrl: string;
  redisPrefix: string;
}

/** Smallest accepted HOPGATE_MAX_HEADER_BYTES, in bytes: below it ordinary browser requests fail. */
export const MIN_HEADER_BYTES = 1024;

type Env = Readonly<Record<string, string | undefined>>;

function common(s: ServiceSettings): CommonConfig {
  return {
    redisUrl: s.string('redis_url', D.DEFAULT_REDIS_URL),
    redisPrefix: s.string('redis_prefix', D.DEFAULT_REDIS_PREFIX),
    natsUrl: s.string('nats_url', D.DEFAULT_NATS_URL),
    logLevel: s.string('log_level', D.DEFAULT_LOG_LEVEL),
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
    certRereadIntervalMs: s.int('cert_reread_interval_ms', D.DEFAULT_CERT_REREAD_INTERVAL_MS),
  };
  if (cfg.maxHeaderBytes < MIN_HEADER_BYTES) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_MAX_HEADER_BYTES must be at least ${MIN_HEADER_BYTES}, got ${cfg.maxHeaderBytes}`);
  }
  if (cfg.bodyIdleTimeoutMs < 1) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_BODY_IDLE_TIMEOUT_MS must be at least 1');
  }
  requirePair(cfg.tlsCertFile, cfg.tlsKeyFile, 'HOPGATE_TLS_CERT_FILE', 'HOPGATE_TLS_KEY_FILE');
  requireRereadInterval(cfg.certRereadIntervalMs);
  if (!cfg.httpsListen && !cfg.httpListen) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_HTTPS_LISTEN and HOPGATE_HTTP_LISTEN are both off: nothing to serve');
  }
  return cfg;
}

export function loadHubConfig(env: Env = processEnv()): HubConfig {
  const s = new ServiceSettings(env);
  const certFile = s.optionalString('dtls_cert_file');
  const keyFile = s.optionalString('dtls_key_file');
  requirePair(certFile, keyFile, 'HOPGATE_DTLS_CERT_FILE', 'HOPGATE_DTLS_KEY_FILE');
  const hubNameRaw = s.optionalString('hub_name');
  const hubName = hubNameRaw === undefined ? undefined : hubNameRaw.trim().toLowerCase().replace(/\.$/, '');
  if (hubName !== undefined && !HUB_NAME_PATTERN.test(hubName)) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_HUB_NAME must be a DNS name (letters, digits, "-" and "."), got "${hubNameRaw}"`);
  }
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
  };
}

/** A DNS name as HOPGATE_HUB_NAME accepts it (RFC 1035 §2.3.1 letters-digits-hyphen labels). */
const HUB_NAME_PATTERN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

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

export function loadCliConfig(env: Env = processEnv()): CliConfig {
  const s = new ServiceSettings(env);
  return {
    redisUrl: s.string('redis_url', D.DEFAULT_REDIS_URL),
    redisPrefix: s.string('redis_prefix', D.DEFAULT_REDIS_PREFIX),
  };
}
