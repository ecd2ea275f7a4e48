import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { HopError, ErrorCode } from '@hopgate/errors';
import type { ServiceSettings } from './sources.js';
import * as D from './defaults.js';

/** How a service reaches Redis: HOPGATE_REDIS_URL and HOPGATE_REDIS_CA_FILE. */
export interface RedisConnectionConfig {
  /**
   * HOPGATE_REDIS_URL: `redis://[[user]:password@]host:port[/db]`, or `rediss://...` for TLS.
   * A Redis ACL user logs in with `user:password@`; `:password@` alone logs in as `default`.
   */
  redisUrl: string;
  /** HOPGATE_REDIS_CA_FILE: PEM bundle trusted for `rediss://` instead of the system roots. */
  redisCaFile: string | undefined;
  /**
   * Redis Sentinel (HOPGATE_REDIS_SENTINELS and HOPGATE_REDIS_SENTINEL_NAME): the primary is
   * asked of the sentinels, and HOPGATE_REDIS_URL gives only the scheme (TLS), the user, the
   * password and the database; its host and port are not used. Absent: HOPGATE_REDIS_URL's server.
   */
  redisSentinel?: RedisSentinelConfig;
}

/** How to find the Redis primary through Sentinel. */
export interface RedisSentinelConfig {
  /** HOPGATE_REDIS_SENTINELS: the sentinels, `host:port` each (at least one; three or more in production). */
  sentinels: readonly { readonly host: string; readonly port: number }[];
  /** HOPGATE_REDIS_SENTINEL_NAME: the name the sentinels monitor the primary under (`mymaster`). */
  name: string;
  /** HOPGATE_REDIS_SENTINEL_PASSWORD: the sentinels' own `requirepass`, when they have one. */
  password: string | undefined;
  /** HOPGATE_REDIS_SENTINEL_TLS: talk TLS to the sentinels too (with HOPGATE_REDIS_CA_FILE); default false. */
  tls: boolean;
}

/** How a service logs in to NATS (at most one of these). */
export type NatsAuth =
  | { readonly method: 'none' }
  /** HOPGATE_NATS_USER + HOPGATE_NATS_PASSWORD. */
  | { readonly method: 'user_password'; readonly user: string; readonly password: string }
  /** HOPGATE_NATS_TOKEN. */
  | { readonly method: 'token'; readonly token: string }
  /**
   * HOPGATE_NATS_CREDS_FILE: a `.creds` file (user JWT + nkey seed, decentralized auth) or a
   * file holding only a user nkey seed (`SU...`, for `nkey:` users in the server config).
   */
  | { readonly method: 'creds_file'; readonly file: string; readonly kind: 'jwt' | 'nkey' };

/** How a service reaches NATS. */
export interface NatsConnectionConfig {
  /** HOPGATE_NATS_URL as given: one URL or a comma-separated list (`nats://` or `tls://`). */
  natsUrl: string;
  /** The URLs of HOPGATE_NATS_URL, trimmed. */
  natsServers: readonly string[];
  natsAuth: NatsAuth;
  /** HOPGATE_NATS_CA_FILE: PEM bundle trusted for the server's TLS certificate instead of the system roots. */
  natsCaFile: string | undefined;
  /**
   * TLS is required: a `tls://` URL or HOPGATE_NATS_CA_FILE. The client then refuses a
   * server that does not offer TLS (nats.js alone would talk plain text to a `tls://` URL).
   */
  natsTls: boolean;
}

const REDIS_SCHEMES = ['redis:', 'rediss:'];
const NATS_SCHEMES = ['nats:', 'tls:'];
/** A user nkey seed: `S` (seed) `U` (user) + 56 base32 characters (nkeys' encoding). */
const USER_SEED_PATTERN = /^SU[A-Z2-7]{56}$/;
/** The armored blocks of a `.creds` file (nsc's format): a JWT, then a user seed. */
const CREDS_JWT_PATTERN = /-----BEGIN NATS USER JWT-----\s*\n\s*([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*\n\s*-+END NATS USER JWT-+/;
const CREDS_SEED_PATTERN = /-----BEGIN USER NKEY SEED-----\s*\n\s*(SU[A-Z2-7]{56})\s*\n\s*-+END USER NKEY SEED-+/;
const PEM_CERTIFICATE_PATTERN = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** HOPGATE_REDIS_URL and HOPGATE_REDIS_CA_FILE, validated. */
export function redisConnectionConfig(s: ServiceSettings): RedisConnectionConfig {
  const redisUrl = s.string('redis_url', D.DEFAULT_REDIS_URL);
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_REDIS_URL must be a redis:// or rediss:// URL, got ${JSON.stringify(redactUrl(redisUrl))}`);
  }
  if (!REDIS_SCHEMES.includes(url.protocol)) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_REDIS_URL must start with redis:// or rediss:// (TLS), got ${url.protocol}//`);
  }
  if (url.hostname === '') throw new HopError(ErrorCode.BadConfig, 'HOPGATE_REDIS_URL needs a host');
  if (url.username !== '' && url.password === '') {
    throw new HopError(
      ErrorCode.BadConfig,
      `HOPGATE_REDIS_URL names the user "${decodeURIComponent(url.username)}" but no password: write ${url.protocol}//USER:PASSWORD@${url.host} (percent-encode special characters)`,
    );
  }
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/(0|[1-9][0-9]{0,3})$/.test(url.pathname)) {
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_REDIS_URL: the path must be a database number (/0, /1, ...), got ${JSON.stringify(url.pathname)}`);
  }
  const redisCaFile = s.optionalString('redis_ca_file');
  if (redisCaFile !== undefined) {
    if (url.protocol !== 'rediss:') {
      throw new HopError(ErrorCode.BadConfig, 'HOPGATE_REDIS_CA_FILE is set but HOPGATE_REDIS_URL is not a rediss:// (TLS) URL');
    }
    readPemCertificates(redisCaFile, 'HOPGATE_REDIS_CA_FILE');
  }
  const redisSentinel = redisSentinelConfig(s, url.protocol === 'rediss:');
  return redisSentinel === undefined ? { redisUrl, redisCaFile } : { redisUrl, redisCaFile, redisSentinel };
}

/** The default Sentinel port (redis.io sentinel docs), when an entry of HOPGATE_REDIS_SENTINELS has none. */
const DEFAULT_SENTINEL_PORT = 26379;

/** HOPGATE_REDIS_SENTINELS and its companions, validated; undefined when Sentinel is not used. */
function redisSentinelConfig(s: ServiceSettings, redisTls: boolean): RedisSentinelConfig | undefined {
  const entries = s.list('redis_sentinels');
  const name = s.optionalString('redis_sentinel_name');
  const password = s.optionalString('redis_sentinel_password');
  const tls = s.bool('redis_sentinel_tls', false);
  if (entries.length === 0) {
    if (name !== undefined || password !== undefined || tls) {
      throw new HopError(ErrorCode.BadConfig, 'HOPGATE_REDIS_SENTINEL_NAME, _PASSWORD or _TLS is set but HOPGATE_REDIS_SENTINELS (host:port,host:port,...) is not');
    }
    return undefined;
  }
  if (name === undefined) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_REDIS_SENTINELS is set but HOPGATE_REDIS_SENTINEL_NAME is not (the name the sentinels monitor the primary under, e.g. mymaster)');
  }
  if (tls && !redisTls) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_REDIS_SENTINEL_TLS is true but HOPGATE_REDIS_URL is not a rediss:// (TLS) URL');
  }
  const sentinels = entries.map((entry) => {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::([0-9]{1,5}))?$/.exec(entry);
    const port = match?.[2] === undefined ? DEFAULT_SENTINEL_PORT : Number(match[2]);
    if (!match || port < 1 || port > 65_535) {
      throw new HopError(ErrorCode.BadConfig, `HOPGATE_REDIS_SENTINELS: ${JSON.stringify(entry)} is not host:port`);
    }
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
  return { sentinels, name, password, tls };
}

/** HOPGATE_NATS_URL, the login settings and HOPGATE_NATS_CA_FILE, validated. */
export function natsConnectionConfig(s: ServiceSettings): NatsConnectionConfig {
  const natsUrl = s.string('nats_url', D.DEFAULT_NATS_URL);
  const natsServers = natsUrl.split(',').map((u) => u.trim()).filter((u) => u !== '');
  if (natsServers.length === 0) throw new HopError(ErrorCode.BadConfig, 'HOPGATE_NATS_URL is empty');
  const schemes = new Set<string>();
  for (const server of natsServers) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new HopError(ErrorCode.BadConfig, `HOPGATE_NATS_URL: ${JSON.stringify(redactUrl(server))} is not a nats:// or tls:// URL`);
    }
    if (!NATS_SCHEMES.includes(url.protocol)) {
      throw new HopError(ErrorCode.BadConfig, `HOPGATE_NATS_URL: URLs must start with nats:// or tls:// (TLS required), got ${url.protocol}//`);
    }
    if (url.hostname === '') throw new HopError(ErrorCode.BadConfig, `HOPGATE_NATS_URL: ${JSON.stringify(server)} needs a host`);
    if (url.username !== '' || url.password !== '') {
      throw new HopError(
        ErrorCode.BadConfig,
        'HOPGATE_NATS_URL must not carry credentials: set HOPGATE_NATS_USER and HOPGATE_NATS_PASSWORD, HOPGATE_NATS_TOKEN or HOPGATE_NATS_CREDS_FILE',
      );
    }
    schemes.add(url.protocol);
  }
  if (schemes.size > 1) {
    throw new HopError(ErrorCode.BadConfig, 'HOPGATE_NATS_URL mixes nats:// and tls:// URLs: use tls:// for all of them (or nats:// with HOPGATE_NATS_CA_FILE)');
  }
  const natsCaFile = s.optionalString('nats_ca_file');
  if (natsCaFile !== undefined) readPemCertificates(natsCaFile, 'HOPGATE_NATS_CA_FILE');
  return {
    natsUrl,
    natsServers,
    natsAuth: natsAuth(s),
    natsCaFile,
    natsTls: schemes.has('tls:') || natsCaFile !== undefined,
  };
}

function natsAuth(s: ServiceSettings): NatsAuth {
  const user = s.optionalString('nats_user');
  const password = s.optionalString('nats_password');
  const token = s.optionalString('nats_token');
  const credsFile = s.optionalString('nats_creds_file');
  const ways = [user !== undefined || password !== undefined ? 'HOPGATE_NATS_USER/HOPGATE_NATS_PASSWORD' : undefined, token !== undefined ? 'HOPGATE_NATS_TOKEN' : undefined, credsFile !== undefined ? 'HOPGATE_NATS_CREDS_FILE' : undefined].filter(
    (w): w is string => w !== undefined,
  );
  if (ways.length > 1) {
    throw new HopError(ErrorCode.BadConfig, `${ways.join(' and ')} are both set: choose one way to log in to NATS`);
  }
  if (user !== undefined || password !== undefined) {
    if (user === undefined) throw new HopError(ErrorCode.BadConfig, 'HOPGATE_NATS_PASSWORD is set but HOPGATE_NATS_USER is not');
    if (password === undefined) throw new HopError(ErrorCode.BadConfig, `HOPGATE_NATS_USER is set ("${user}") but HOPGATE_NATS_PASSWORD is not`);
    return { method: 'user_password', user, password };
  }
  if (token !== undefined) return { method: 'token', token };
  if (credsFile !== undefined) return { method: 'creds_file', file: credsFile, kind: credsKind(credsFile) };
  return { method: 'none' };
}

/** Whether a creds file holds a user JWT and its seed, or a user nkey seed alone; throws on anything else. */
function credsKind(file: string): 'jwt' | 'nkey' {
  const text = readText(file, 'HOPGATE_NATS_CREDS_FILE');
  if (text.includes('-----BEGIN NATS USER JWT-----')) {
    if (!CREDS_JWT_PATTERN.test(text) || !CREDS_SEED_PATTERN.test(text)) {
      throw new HopError(ErrorCode.BadConfig, `HOPGATE_NATS_CREDS_FILE ${file}: not a valid .creds file (needs a NATS USER JWT block and a USER NKEY SEED block)`);
    }
    return 'jwt';
  }
  if (USER_SEED_PATTERN.test(text.trim())) return 'nkey';
  throw new HopError(ErrorCode.BadConfig, `HOPGATE_NATS_CREDS_FILE ${file}: neither a .creds file (user JWT + seed) nor a user nkey seed (SU...)`);
}

function readText(file: string, variable: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot read it (${(err as Error).message})`;
    throw new HopError(ErrorCode.BadConfig, `${variable} ${file}: ${reason}`, { cause: err });
  }
}

/** Reads a PEM bundle of one or more certificates; a clear error when the file is missing or holds none that parses. */
export function readPemCertificates(file: string, variable: string): string {
  const text = readText(file, variable);
  const blocks = text.match(PEM_CERTIFICATE_PATTERN) ?? [];
  if (blocks.length === 0) throw new HopError(ErrorCode.BadConfig, `${variable} ${file}: no PEM certificate in it`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new HopError(ErrorCode.BadConfig, `${variable} ${file}: a certificate in it does not parse (${(err as Error).message})`, { cause: err });
    }
  }
  return text;
}

/** The URL with its password replaced by `***`, for log lines and messages. */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not a URL: drop whatever sits between "//" and "@", which is where a password would be.
    return text.replace(/\/\/[^/@]*@/, '//***@');
  }
  if (url.password !== '') url.password = '***';
  return url.toString().replace(/\/$/, '');
}
