import type { Logger } from '@hopgate/log';
import { HopError, ErrorCode } from '@hopgate/errors';
import {
  DEFAULT_HANDSHAKE_BURST_PER_IP,
  DEFAULT_HANDSHAKES_PER_IP_PER_S,
  DEFAULT_MAX_HANDSHAKES_PER_IP,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_UNAUTHENTICATED_PER_IP,
  DEFAULT_STATS_LOG_INTERVAL_MS,
  DEFAULT_UNAUTHENTICATED_SHARE_PERCENT,
} from './constants.js';

export interface DtlsServerOptions {
  /** Address to bind, e.g. "0.0.0.0" or "::". */
  host: string;
  /** UDP port; 0 picks a free one (see `address()`). */
  port: number;
  /**
   * PEM chain: leaf first, then intermediates. With neither `certPem` nor `keyPem` the server
   * listens without a certificate and refuses handshakes until `setCertificate` gives one.
   */
  certPem?: string;
  /** PEM key (PKCS#8, SEC1 or PKCS#1): P-256 ECDSA or RSA. */
  keyPem?: string;
  /**
   * HMAC key(s) for stateless cookies, each at least MIN_COOKIE_SECRET_BYTES: with a list the first
   * signs and all verify (rotation with an overlap). Default 32 random bytes per server. Share
   * it between hubs behind one address.
   */
  cookieSecret?: Buffer | readonly Buffer[];
  /** Deadline for a handshake after its verified ClientHello; default DEFAULT_HANDSHAKE_TIMEOUT_MS. */
  handshakeTimeoutMs?: number;
  /** Limit of peers (live sessions + handshakes); default DEFAULT_MAX_SESSIONS. */
  maxSessions?: number;
  /** Handshakes in progress per source (IPv4 address, IPv6 /64); default DEFAULT_MAX_HANDSHAKES_PER_IP. */
  maxHandshakesPerIp?: number;
  /**
   * Handshakes in progress plus sessions not yet authenticated (`DtlsServerLink.markAuthenticated`)
   * per source; default DEFAULT_MAX_UNAUTHENTICATED_PER_IP.
   */
  maxUnauthenticatedPerIp?: number;
  /**
   * Handshakes in progress plus unauthenticated sessions in all, so that the rest of `maxSessions`
   * stays for authenticated agents; default DEFAULT_UNAUTHENTICATED_SHARE_PERCENT of `maxSessions`.
   */
  maxUnauthenticated?: number;
  /**
   * Sustained rate of handshakes one source (IPv4 address, IPv6 /64) may start, per second: a
   * token bucket of `handshakeBurstPerIp` tokens refilled at this rate; default
   * DEFAULT_HANDSHAKES_PER_IP_PER_S.
   */
  handshakesPerIpPerS?: number;
  /** Handshakes one source may start at once (the bucket's size); default DEFAULT_HANDSHAKE_BURST_PER_IP. */
  handshakeBurstPerIp?: number;
  /** Period of the 'dtls counters' info line of `stats()` (only when a figure changed), in ms; 0 turns it off. Default DEFAULT_STATS_LOG_INTERVAL_MS. */
  statsLogIntervalMs?: number;
  /** Default silentLogger(); pass a child logger named for the component. */
  logger?: Logger;
}

/** Every limit of a server, defaults applied. */
export interface ServerLimits {
  maxSessions: number;
  maxHandshakesPerIp: number;
  maxUnauthenticatedPerIp: number;
  maxUnauthenticated: number;
  handshakesPerIpPerS: number;
  handshakeBurstPerIp: number;
  statsLogIntervalMs: number;
}

/** The options' limits with defaults applied; throws HopError(BadConfig) for a limit below 1 (a negative stats interval). */
export function serverLimits(options: DtlsServerOptions): ServerLimits {
  const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
  const limits: ServerLimits = {
    maxSessions,
    maxHandshakesPerIp: options.maxHandshakesPerIp ?? DEFAULT_MAX_HANDSHAKES_PER_IP,
    maxUnauthenticatedPerIp: options.maxUnauthenticatedPerIp ?? DEFAULT_MAX_UNAUTHENTICATED_PER_IP,
    maxUnauthenticated: options.maxUnauthenticated ?? Math.max(1, Math.floor((maxSessions * DEFAULT_UNAUTHENTICATED_SHARE_PERCENT) / 100)),
    handshakesPerIpPerS: options.handshakesPerIpPerS ?? DEFAULT_HANDSHAKES_PER_IP_PER_S,
    handshakeBurstPerIp: options.handshakeBurstPerIp ?? DEFAULT_HANDSHAKE_BURST_PER_IP,
    statsLogIntervalMs: options.statsLogIntervalMs ?? DEFAULT_STATS_LOG_INTERVAL_MS,
  };
  for (const [name, value] of Object.entries(limits)) {
    const least = name === 'statsLogIntervalMs' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < least) {
      throw new HopError(ErrorCode.BadConfig, `DTLS server option ${name} must be an integer of at least ${least}, got ${value}`);
    }
  }
  return limits;
}
