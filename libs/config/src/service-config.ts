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
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
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
  dtlsCertFile: string;
  dtlsKeyFile: string;
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
  };
  if (cfg.maxHeaderBytes < MIN_HEADER_BYTES) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_MAX_HEADER_BYTES must be at least ${MIN_HEADER_BYTES}, got ${cfg.maxHeaderBytes}`);
  }
  if (cfg.bodyIdleTimeoutMs < 1) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_BODY_IDLE_TIMEOUT_MS must be at least 1');
  }
  if (cfg.httpsListen && (!cfg.tlsCertFile || !cfg.tlsKeyFile)) {
    throw new HopError(
      ErrorCode.BadConfig,
      'HOPGATE_TLS_CERT_FILE and HOPGATE_TLS_KEY_FILE are required while HOPGATE_HTTPS_LISTEN is not "off"',
    );
  }
  if (!cfg.httpsListen && !cfg.httpListen) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_HTTPS_LISTEN and HOPGATE_HTTP_LISTEN are both off: nothing to serve');
  }
  return cfg;
}

export function loadHubConfig(env: Env = processEnv()): HubConfig {
  const s = new ServiceSettings(env);
  const certFile = s.optionalString('dtls_cert_file');
  const keyFile = s.optionalString('dtls_key_file');
  if (!certFile || !keyFile) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_DTLS_CERT_FILE and HOPGATE_DTLS_KEY_FILE are required');
  }
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
    dtlsCertFile: certFile,
    dtlsKeyFile: keyFile,
    sessionTtlMs,
    authTimeoutMs: s.int('auth_timeout_ms', D.DEFAULT_AUTH_TIMEOUT_MS),
    agentIdleTimeoutMs: s.int('agent_idle_timeout_ms', D.DEFAULT_AGENT_IDLE_TIMEOUT_MS),
    maxStreamsPerAgent,
  };
}

export function loadCliConfig(env: Env = processEnv()): CliConfig {
  const s = new ServiceSettings(env);
  return {
    redisUrl: s.string('redis_url', D.DEFAULT_REDIS_URL),
    redisPrefix: s.string('redis_prefix', D.DEFAULT_REDIS_PREFIX),
  };
}
