import fs from 'node:fs';
import os from 'node:os';
import crypto from 'node:crypto';
import { HopError, ErrorCode } from '@hopgate/errors';
import { parseHostPort, type ListenAddress } from './listen-address.js';
import { readSettingsFile, processEnv, type RawSettings } from './sources.js';
import * as D from './defaults.js';

/** The agent's config file (YAML or JSON), keys as in the seed design. */
export interface AgentConfig {
  /** `server`: host:port of a hub's DTLS endpoint. */
  server: { host: string; port: number };
  /** `client_id` */
  clientId: string;
  /**
   * `instance_id`: names this agent process among the replicas of its client (ID_PATTERN);
   * default the hostname (cut to fit the pattern) plus a random suffix, kept for the process's life.
   */
  instanceId: string;
  /** `token` (never logged). */
  token: string;
  /** `services`: name -> local address (`127.0.0.1:PORT`). */
  services: Record<string, ListenAddress>;
  /** `ca_file`: PEM bundle to trust instead of the system roots. */
  caPem: string | undefined;
  caFile: string | undefined;
  /** `server_name`: name verified against the hub certificate; default: the host of `server`. */
  serverName: string;
  logLevel: string;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** `refused_retry_min_ms`: first retry delay after the hub refused this agent. */
  refusedRetryMinMs: number;
  /** `refused_retry_max_ms`: cap of the retry delay after refusals. */
  refusedRetryMaxMs: number;
  /** `origin_connect_timeout_ms`: time to connect to a local service (requests and upgrades); 0 = none. */
  originConnectTimeoutMs: number;
  /** `response_header_timeout_ms`: time to a local service's response head; 0 = none. */
  responseHeaderTimeoutMs: number;
  /** `body_idle_timeout_ms`: longest silence of a local service mid-body; 0 = none. */
  bodyIdleTimeoutMs: number;
  /** `idle_timeout_ms`: a session with no datagram from the hub for this long is dead. */
  idleTimeoutMs: number;
}

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Hex characters of the random suffix of a default instance id. */
const INSTANCE_SUFFIX_HEX_CHARS = 6;

/** `<hostname>-<6 hex>`: the hostname's characters outside ID_PATTERN become `-`, cut so the whole fits 64. */
export function defaultInstanceId(hostname: string = os.hostname()): string {
  const suffix = crypto.randomBytes(INSTANCE_SUFFIX_HEX_CHARS / 2).toString('hex');
  const host = hostname.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64 - 1 - INSTANCE_SUFFIX_HEX_CHARS);
  return host === '' ? `agent-${suffix}` : `${host}-${suffix}`;
}

function str(raw: RawSettings, key: string, required: boolean): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new HopError(ErrorCode.BadConfig, `agent config: "${key}" is required`);
    return undefined;
  }
  if (typeof v !== 'string' && typeof v !== 'number') {
    throw new HopError(ErrorCode.BadConfig, `agent config: "${key}" must be a string`);
  }
  return String(v);
}

function int(raw: RawSettings, key: string, fallback: number): number {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new HopError(ErrorCode.BadConfig, `agent config: "${key}" must be a non-negative integer`);
  return n;
}

/** Parses an agent config object (from YAML/JSON). `HOPGATE_LOG_LEVEL` overrides `log_level`. */
export function parseAgentConfig(raw: RawSettings, env: Readonly<Record<string, string | undefined>> = processEnv()): AgentConfig {
  const server = parseHostPort(str(raw, 'server', true)!, 'agent config "server"', '');
  if (server.host === '') throw new HopError(ErrorCode.BadConfig, 'agent config: "server" needs a host');
  const clientId = str(raw, 'client_id', true)!;
  const instanceId = str(raw, 'instance_id', false) ?? defaultInstanceId();
  if (!ID_PATTERN.test(instanceId)) {
    throw new HopError(ErrorCode.BadConfig, `agent config: instance_id "${instanceId}" must match ${ID_PATTERN}`);
  }
  if (!ID_PATTERN.test(clientId)) {
    throw new HopError(ErrorCode.BadConfig, `agent config: client_id "${clientId}" must match ${ID_PATTERN}`);
  }
  const token = str(raw, 'token', true)!;
  const servicesRaw = raw['services'];
  if (!servicesRaw || typeof servicesRaw !== 'object' || Array.isArray(servicesRaw)) {
    throw new HopError(ErrorCode.BadConfig, 'agent config: "services" must be a map of name: 127.0.0.1:PORT');
  }
  // Null prototype: a service name from the wire ("constructor", "toString") finds nothing inherited.
  const services = Object.create(null) as Record<string, ListenAddress>;
  for (const [name, target] of Object.entries(servicesRaw as Record<string, unknown>)) {
    if (!ID_PATTERN.test(name)) throw new HopError(ErrorCode.BadConfig, `agent config: service name "${name}" must match ${ID_PATTERN}`);
    if (typeof target !== 'string') throw new HopError(ErrorCode.BadConfig, `agent config: service "${name}" must be host:port`);
    const addr = parseHostPort(target.replace(/^https?:\/\//, ''), `agent config service "${name}"`, '127.0.0.1');
    if (addr.port === 0) throw new HopError(ErrorCode.BadConfig, `agent config: service "${name}" needs a port`);
    services[name] = addr;
  }
  if (Object.keys(services).length === 0) throw new HopError(ErrorCode.BadConfig, 'agent config: "services" is empty');
  const caFile = str(raw, 'ca_file', false);
  let caPem: string | undefined;
  if (caFile) {
    try {
      caPem = fs.readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new HopError(ErrorCode.BadConfig, `agent config: cannot read ca_file ${caFile}`, { cause: err });
    }
  }
  const reconnectMinMs = int(raw, 'reconnect_min_ms', D.DEFAULT_RECONNECT_MIN_MS);
  const reconnectMaxMs = int(raw, 'reconnect_max_ms', D.DEFAULT_RECONNECT_MAX_MS);
  if (reconnectMinMs < 1 || reconnectMaxMs < reconnectMinMs) {
    throw new HopError(ErrorCode.BadConfig, 'agent config: need 1 <= reconnect_min_ms <= reconnect_max_ms');
  }
  const refusedRetryMinMs = int(raw, 'refused_retry_min_ms', D.DEFAULT_REFUSED_RETRY_MIN_MS);
  const refusedRetryMaxMs = int(raw, 'refused_retry_max_ms', D.DEFAULT_REFUSED_RETRY_MAX_MS);
  if (refusedRetryMinMs < 1 || refusedRetryMaxMs < refusedRetryMinMs) {
    throw new HopError(ErrorCode.BadConfig, 'agent config: need 1 <= refused_retry_min_ms <= refused_retry_max_ms');
  }
  return {
    server,
    clientId,
    instanceId,
    token,
    services,
    caPem,
    caFile,
    serverName: str(raw, 'server_name', false) ?? server.host,
    logLevel: env['HOPGATE_LOG_LEVEL'] || str(raw, 'log_level', false) || D.DEFAULT_LOG_LEVEL,
    reconnectMinMs,
    reconnectMaxMs,
    refusedRetryMinMs,
    refusedRetryMaxMs,
    originConnectTimeoutMs: int(raw, 'origin_connect_timeout_ms', D.DEFAULT_ORIGIN_CONNECT_TIMEOUT_MS),
    responseHeaderTimeoutMs: int(raw, 'response_header_timeout_ms', D.DEFAULT_RESPONSE_HEADER_TIMEOUT_MS),
    bodyIdleTimeoutMs: int(raw, 'body_idle_timeout_ms', D.DEFAULT_BODY_IDLE_TIMEOUT_MS),
    idleTimeoutMs: int(raw, 'idle_timeout_ms', D.DEFAULT_AGENT_IDLE_TIMEOUT_MS),
  };
}

export function loadAgentConfig(file: string): AgentConfig {
  return parseAgentConfig(readSettingsFile(file));
}
