import fs from 'node:fs';
import os from 'node:os';
import crypto from 'node:crypto';
import { HopError, ErrorCode } from '@hopgate/errors';
import { parseHostPort, type ListenAddress } from './listen-address.js';
import { readSettingsFile, processEnv, type RawSettings } from './sources.js';
import * as D from './defaults.js';

/** The agent's config file (YAML or JSON), keys as in the seed design. */
export interface AgentConfig {
  /** The first (or only) entry of `server`; kept for code that reads one address. */
  server: { host: string; port: number };
  /**
   * `server`: every hub's DTLS endpoint, as given: a YAML list of `host:port`, a comma-separated
   * string, or one entry (a name may resolve to several addresses; the agent resolves it at
   * each connection attempt).
   */
  servers: ListenAddress[];
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
  /** `server_name`: name verified against every hub's certificate; default: the host of the first `server` entry. */
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
  /** `ops_listen`: host:port of the agent's /healthz and /readyz; undefined (the default): none. */
  opsListen: ListenAddress | undefined;
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

/** Most `server` entries: more hubs than this is a config mistake, not a cluster. */
export const MAX_SERVER_ENTRIES = 64;

/** `server`: one `host:port`, a comma-separated string of them, or a YAML list of them. */
function parseServers(value: unknown): ListenAddress[] {
  let entries: string[];
  if (Array.isArray(value)) {
    entries = value.map((item: unknown) => {
      if (typeof item !== 'string') throw new HopError(ErrorCode.BadConfig, 'agent config: "server" list entries must be host:port strings');
      return item;
    });
  } else if (typeof value === 'string') {
    entries = value.split(',');
  } else if (value === undefined || value === null) {
    throw new HopError(ErrorCode.BadConfig, 'agent config: "server" is required');
  } else {
    throw new HopError(ErrorCode.BadConfig, 'agent config: "server" must be host:port, a comma-separated string or a list of them');
  }
  entries = entries.map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (entries.length === 0) throw new HopError(ErrorCode.BadConfig, 'agent config: "server" is required');
  if (entries.length > MAX_SERVER_ENTRIES) throw new HopError(ErrorCode.BadConfig, `agent config: "server" has more than ${MAX_SERVER_ENTRIES} entries`);
  const seen = new Set<string>();
  return entries.map((entry) => {
    const address = parseHostPort(entry, 'agent config "server"', '');
    if (address.host === '') throw new HopError(ErrorCode.BadConfig, `agent config: "server" entry "${entry}" needs a host`);
    if (address.port === 0) throw new HopError(ErrorCode.BadConfig, `agent config: "server" entry "${entry}" needs a port`);
    const key = `${address.host.toLowerCase()}:${address.port}`;
    if (seen.has(key)) throw new HopError(ErrorCode.BadConfig, `agent config: "server" lists "${entry}" twice`);
    seen.add(key);
    return address;
  });
}

/** Parses an agent config object (from YAML/JSON). `HOPGATE_LOG_LEVEL` overrides `log_level`. */
export function parseAgentConfig(raw: RawSettings, env: Readonly<Record<string, string | undefined>> = processEnv()): AgentConfig {
  const servers = parseServers(raw['server']);
  const server = servers[0]!;
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
    servers,
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
    opsListen: opsListen(str(raw, 'ops_listen', false)),
  };
}

/** `ops_listen`: absent or `off` is none; `:PORT` listens on 127.0.0.1 (an agent's host is often a laptop). */
function opsListen(raw: string | undefined): ListenAddress | undefined {
  if (raw === undefined || raw === 'off') return undefined;
  return parseHostPort(raw, 'agent config "ops_listen"', '127.0.0.1');
}

export function loadAgentConfig(file: string): AgentConfig {
  return parseAgentConfig(readSettingsFile(file));
}
