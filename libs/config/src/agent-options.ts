import fs from 'node:fs';
import { HopError, ErrorCode } from '@hopgate/errors';
import { parseAgentConfig, type AgentConfig } from './agent-config.js';
import { readSettingsFile, processEnv, type RawSettings } from './sources.js';

/**
 * The agent without a file: command-line flags and `HOPGATE_AGENT_*` variables, over the
 * optional YAML/JSON file of `--config` (or `HOPGATE_AGENT_CONFIG`). Precedence, per setting:
 * flag > variable > file. A list (`server`, `services`) given at a higher level replaces the
 * lower level's whole list; `token` and `token_file` are one setting (the higher level's wins).
 */

type Env = Readonly<Record<string, string | undefined>>;

/** Exit code of the agent for a usage or config error (as the CLI's). */
export const AGENT_USAGE_EXIT_CODE = 2;

/** Longest accepted token file, in bytes: a token is 43 characters; anything this big is the wrong file. */
export const MAX_TOKEN_FILE_BYTES = 4096;

/** Levels pino knows; anything else would crash the logger at start. */
export const AGENT_LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

interface FlagSpec {
  /** The config key the flag sets (also `HOPGATE_AGENT_<KEY>`). */
  key: string;
  /** Repeatable: every occurrence is kept (a list). */
  multiple?: boolean;
  /** Takes no value. */
  boolean?: boolean;
  short?: string;
}

/** Every flag of `hopgate-agent`; the key is also the YAML key (its variable: AGENT_ENV_VARIABLES). */
const FLAGS: Readonly<Record<string, FlagSpec>> = {
  server: { key: 'server', multiple: true },
  'client-id': { key: 'client_id' },
  token: { key: 'token' },
  'token-file': { key: 'token_file' },
  service: { key: 'services', multiple: true },
  'instance-id': { key: 'instance_id' },
  'server-name': { key: 'server_name' },
  'ca-file': { key: 'ca_file' },
  'ops-listen': { key: 'ops_listen' },
  'log-level': { key: 'log_level' },
  config: { key: 'config', short: 'c' },
  help: { key: 'help', boolean: true, short: 'h' },
};

/**
 * The agent's variables: config key -> variable, `HOPGATE_AGENT_<KEY>` for the flags' keys and
 * the tuning keys of the file. One exception: `HOPGATE_AGENT_IDLE_TIMEOUT_MS` is the hub's
 * setting (how long the hub waits for a silent agent), so the agent's own `idle_timeout_ms`
 * is `HOPGATE_AGENT_SESSION_IDLE_TIMEOUT_MS`: a shell or compose file that sets both services'
 * variables does not mix them.
 */
export const AGENT_ENV_VARIABLES: Readonly<Record<string, string>> = {
  server: 'HOPGATE_AGENT_SERVER',
  client_id: 'HOPGATE_AGENT_CLIENT_ID',
  token: 'HOPGATE_AGENT_TOKEN',
  token_file: 'HOPGATE_AGENT_TOKEN_FILE',
  services: 'HOPGATE_AGENT_SERVICES',
  instance_id: 'HOPGATE_AGENT_INSTANCE_ID',
  server_name: 'HOPGATE_AGENT_SERVER_NAME',
  ca_file: 'HOPGATE_AGENT_CA_FILE',
  ops_listen: 'HOPGATE_AGENT_OPS_LISTEN',
  log_level: 'HOPGATE_AGENT_LOG_LEVEL',
  reconnect_min_ms: 'HOPGATE_AGENT_RECONNECT_MIN_MS',
  reconnect_max_ms: 'HOPGATE_AGENT_RECONNECT_MAX_MS',
  refused_retry_min_ms: 'HOPGATE_AGENT_REFUSED_RETRY_MIN_MS',
  refused_retry_max_ms: 'HOPGATE_AGENT_REFUSED_RETRY_MAX_MS',
  origin_connect_timeout_ms: 'HOPGATE_AGENT_ORIGIN_CONNECT_TIMEOUT_MS',
  response_header_timeout_ms: 'HOPGATE_AGENT_RESPONSE_HEADER_TIMEOUT_MS',
  body_idle_timeout_ms: 'HOPGATE_AGENT_BODY_IDLE_TIMEOUT_MS',
  idle_timeout_ms: 'HOPGATE_AGENT_SESSION_IDLE_TIMEOUT_MS',
};

export const AGENT_USAGE = `Usage: hopgate-agent --server HOST:PORT --client-id ID --token-file FILE --service NAME=HOST:PORT [...]

  --server HOST:PORT        a hub's DTLS endpoint; repeat it or give a comma list for several hubs
  --client-id ID            this agent's client id (hopgate client add ID)
  --token-file FILE         file holding the client's token (--token TOKEN also works, but shows in ps)
  --service NAME=HOST:PORT  a local service, named as in routes (CLIENT/NAME); repeatable; NAME=PORT is 127.0.0.1
  --instance-id ID          names this replica of the client (default: hostname plus a random suffix)
  --server-name NAME        name verified on the hubs' certificate (default: the first server's host)
  --ca-file FILE            PEM bundle to trust instead of the system roots
  --ops-listen HOST:PORT    serve /healthz and /readyz there (:PORT is 127.0.0.1:PORT)
  --log-level LEVEL         fatal, error, warn, info (default), debug, trace, silent
  -c, --config FILE         YAML or JSON config file; flags and variables override its keys
  -h, --help                print this help

Every flag has a variable: HOPGATE_AGENT_SERVER, HOPGATE_AGENT_CLIENT_ID, HOPGATE_AGENT_TOKEN_FILE,
HOPGATE_AGENT_TOKEN, HOPGATE_AGENT_SERVICES (web=127.0.0.1:8080,api=127.0.0.1:9000), ...,
HOPGATE_AGENT_CONFIG. Precedence: flags, then variables, then the file.
`;

export type AgentInvocation = { kind: 'help' } | { kind: 'run'; config: AgentConfig };

function usageError(message: string): HopError {
  return new HopError(ErrorCode.BadConfig, message);
}

/** The flags as { key: string | string[] | true }. Accepts `--flag value`, `--flag=value`, `-c value`. */
function readFlags(argv: readonly string[]): Record<string, string | string[] | true> {
  const out: Record<string, string | string[] | true> = Object.create(null) as Record<string, string | string[] | true>;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(arg)) {
      const short = arg.slice(1);
      const long = Object.entries(FLAGS).find(([, spec]) => spec.short === short)?.[0];
      if (long === undefined) throw usageError(`unknown flag ${arg}`);
      name = long;
    } else {
      throw usageError(`unexpected argument "${arg}" (every setting is a flag, such as --service web=127.0.0.1:8080)`);
    }
    const spec = FLAGS[name];
    if (spec === undefined) throw usageError(`unknown flag --${name}`);
    if (spec.boolean) {
      if (inline !== undefined) throw usageError(`--${name} takes no value`);
      out[spec.key] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('-')) throw usageError(`--${name} needs a value`);
      value = next;
      i++;
    }
    if (spec.multiple) {
      const list = out[spec.key];
      out[spec.key] = Array.isArray(list) ? [...list, value] : [value];
    } else {
      if (out[spec.key] !== undefined) throw usageError(`--${name} is given twice`);
      out[spec.key] = value;
    }
  }
  return out;
}

/** `NAME=HOST:PORT` entries (from flags or the comma list of the variable) -> the file's `services` map. */
function parseServiceEntries(entries: readonly string[], what: string): Record<string, string> {
  const services = Object.create(null) as Record<string, string>;
  for (const raw of entries.map((e) => e.trim()).filter((e) => e !== '')) {
    const eq = raw.indexOf('=');
    if (eq <= 0 || eq === raw.length - 1) throw usageError(`${what}: expected NAME=HOST:PORT, got "${raw}"`);
    const name = raw.slice(0, eq);
    const target = raw.slice(eq + 1);
    if (Object.hasOwn(services, name)) throw usageError(`${what}: service "${name}" is given twice`);
    // NAME=PORT: a port alone is 127.0.0.1:PORT (parseAgentConfig reads ":PORT" so).
    services[name] = /^\d+$/.test(target) ? `:${target}` : target;
  }
  return services;
}

/** The flags as file-shaped settings. */
function flagLayer(flags: Record<string, string | string[] | true>): RawSettings {
  const layer: RawSettings = {};
  for (const [key, value] of Object.entries(flags)) {
    if (key === 'help' || key === 'config') continue;
    if (key === 'server') layer[key] = (value as string[]).join(',');
    else if (key === 'services') layer[key] = parseServiceEntries(value as string[], '--service');
    else layer[key] = value;
  }
  return layer;
}

/** The agent's variables (AGENT_ENV_VARIABLES) as file-shaped settings (empty variables are unset). */
function envLayer(env: Env): RawSettings {
  const layer: RawSettings = {};
  for (const [key, variable] of Object.entries(AGENT_ENV_VARIABLES)) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    layer[key] = key === 'services' ? parseServiceEntries(value.split(','), variable) : value;
  }
  return layer;
}

/** `token` or `token_file` of one level; both at once is a mistake worth stopping for. */
function checkOneToken(layer: RawSettings, where: string, names: [string, string]): void {
  if (layer['token'] !== undefined && layer['token'] !== null && layer['token_file'] !== undefined && layer['token_file'] !== null) {
    throw usageError(`${where}: give either ${names[0]} or ${names[1]}, not both`);
  }
}

function readTokenFile(file: string): string {
  let text: string;
  try {
    const stat = fs.statSync(file);
    if (stat.size > MAX_TOKEN_FILE_BYTES) throw usageError(`token file ${file} is ${stat.size} bytes: a token is one short line`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof HopError) throw err;
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new HopError(ErrorCode.BadConfig, `cannot read the token file ${file} (${reason})`, { cause: err });
  }
  const token = text.trim();
  if (token === '') throw usageError(`token file ${file} is empty`);
  return token;
}

/** Flags > HOPGATE_AGENT_* > file, key by key; `token`/`token_file` as one key. */
function merge(file: RawSettings, fromEnv: RawSettings, fromFlags: RawSettings): RawSettings {
  const merged: RawSettings = { ...file };
  for (const layer of [fromEnv, fromFlags]) {
    if (layer['token'] !== undefined || layer['token_file'] !== undefined) {
      delete merged['token'];
      delete merged['token_file'];
    }
    Object.assign(merged, layer);
  }
  return merged;
}

/** What is missing, in the words of the flags (a new user starts there, not in the file). */
function checkRequired(merged: RawSettings): void {
  const missing: string[] = [];
  const absent = (v: unknown): boolean => v === undefined || v === null || v === '';
  if (absent(merged['server'])) missing.push('--server');
  if (absent(merged['client_id'])) missing.push('--client-id');
  if (absent(merged['token']) && absent(merged['token_file'])) missing.push('--token-file (or --token)');
  if (absent(merged['services'])) missing.push('--service');
  if (missing.length > 0) throw usageError(`missing ${missing.join(', ')} (or the HOPGATE_AGENT_* variables, or a --config file)`);
}

/**
 * Reads argv (without node and the script) and the environment into the agent's config.
 * Throws HopError ERR_BAD_CONFIG for unknown flags, missing values and invalid settings.
 */
export function resolveAgentInvocation(argv: readonly string[], env: Env = processEnv()): AgentInvocation {
  const flags = readFlags(argv);
  if (flags['help'] === true) return { kind: 'help' };
  const configFile = (flags['config'] as string | undefined) ?? (env['HOPGATE_AGENT_CONFIG'] || undefined);
  const fileLayer = configFile === undefined ? {} : readSettingsFile(configFile);
  const fromEnv = envLayer(env);
  const fromFlags = flagLayer(flags);
  checkOneToken(fileLayer, `config file ${configFile ?? ''}`, ['token', 'token_file']);
  checkOneToken(fromEnv, 'environment', ['HOPGATE_AGENT_TOKEN', 'HOPGATE_AGENT_TOKEN_FILE']);
  checkOneToken(fromFlags, 'flags', ['--token', '--token-file']);
  const merged = merge(fileLayer, fromEnv, fromFlags);
  checkRequired(merged);
  const tokenFile = merged['token_file'];
  if (tokenFile !== undefined && tokenFile !== null) {
    if (typeof tokenFile !== 'string') throw usageError('token_file must be a path');
    merged['token'] = readTokenFile(tokenFile);
  }
  delete merged['token_file'];
  // HOPGATE_LOG_LEVEL (every service's variable) keeps overriding the file, below the agent's own flag and variable.
  const logLevel = fromFlags['log_level'] ?? fromEnv['log_level'] ?? (env['HOPGATE_LOG_LEVEL'] || undefined) ?? fileLayer['log_level'];
  if (logLevel !== undefined && logLevel !== null) {
    if (typeof logLevel !== 'string' || !(AGENT_LOG_LEVELS as readonly string[]).includes(logLevel)) {
      throw usageError(`log level must be one of ${AGENT_LOG_LEVELS.join(', ')}, got "${String(logLevel)}"`);
    }
    merged['log_level'] = logLevel;
  }
  // HOPGATE_OPS_LISTEN (every service's variable; the images set it to 0.0.0.0:9090) likewise, below
  // --ops-listen and HOPGATE_AGENT_OPS_LISTEN (`off` there turns it off).
  const sharedOpsListen = env['HOPGATE_OPS_LISTEN'];
  if (fromFlags['ops_listen'] === undefined && fromEnv['ops_listen'] === undefined && sharedOpsListen !== undefined && sharedOpsListen !== '') {
    merged['ops_listen'] = sharedOpsListen;
  }
  return { kind: 'run', config: parseAgentConfig(merged, {}) };
}
