import type { Socket } from 'node:net';
import type { Logger } from '@hopgate/log';
import { normalizeIp, type AddressSet } from '@hopgate/net-address';
import { parseProxyHeader, type ProxyHeader } from './proxy-protocol.js';
import type { ConnectionAddresses } from './client-address.js';

/**
 * A trusted proxy has this many ms from its TCP connect to a complete PROXY protocol header;
 * then the connection is closed. proxy-protocol.txt §2 asks for at least 3 s (a TCP
 * retransmit); load balancers send the header at once.
 */
export const PROXY_HEADER_TIMEOUT_MS = 5_000;
/** Refused connections are summed up in one `info` line at most this often, in ms (each one is logged at `debug`). */
export const PROXY_REFUSAL_LOG_INTERVAL_MS = 60_000;

/** Why a connection was closed before its PROXY protocol header was accepted. */
export type ProxyRefusal = 'untrusted_peer' | 'invalid_header' | 'timeout';

export interface ProxyProtocolFrontOptions {
  /** HOPGATE_TRUSTED_PROXIES: the only TCP peers allowed to connect. */
  trustedProxies: AddressSet;
  /** Where each accepted connection's client address is recorded. */
  connections: ConnectionAddresses;
  logger: Logger;
  /** Default PROXY_HEADER_TIMEOUT_MS (tests shorten it). */
  headerTimeoutMs?: number;
}

/** A connection's progress through the front. */
type FrontState = 'awaiting_header' | 'handed_over' | 'refused';

/**
 * The first step of every connection on a listener with HOPGATE_PROXY_PROTOCOL=true: the TCP
 * peer must be in HOPGATE_TRUSTED_PROXIES, and its first bytes a PROXY protocol v1 or v2
 * header (proxy-protocol.txt §2: the receiver only accepts connections with a valid header,
 * and never guesses whether one is there). The header's source becomes the connection's
 * client address (ConnectionAddresses), the bytes after it are put back, and the socket is
 * handed to the next step (the TLS front, or the HTTP server). Anything else is closed
 * without a byte: a peer not trusted, a missing, invalid or oversized header, or none within
 * PROXY_HEADER_TIMEOUT_MS.
 */
export class ProxyProtocolFront {
  /** Connections refused since start, by reason. */
  readonly refused: Record<ProxyRefusal, number> = { untrusted_peer: 0, invalid_header: 0, timeout: 0 };
  private readonly headerTimeoutMs: number;
  private refusedSinceSummary: Record<ProxyRefusal, number> = { untrusted_peer: 0, invalid_header: 0, timeout: 0 };
  private lastSummaryAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: ProxyProtocolFrontOptions) {
    this.headerTimeoutMs = options.headerTimeoutMs ?? PROXY_HEADER_TIMEOUT_MS;
  }

  /** Reads the PROXY header of a new connection, then calls `next` with the socket (or closes it). */
  accept(socket: Socket, next: (socket: Socket) => void): void {
    // A reset before the next step installs its own handlers must not surface as an uncaught error.
    socket.on('error', () => undefined);
    const rawPeer = socket.remoteAddress ?? '';
    const peer = normalizeIp(rawPeer) ?? rawPeer;
    if (!this.options.trustedProxies.contains(peer)) {
      this.refuse(socket, 'untrusted_peer', peer, 'the TCP peer is not in HOPGATE_TRUSTED_PROXIES');
      return;
    }
    let state: FrontState = 'awaiting_header';
    let buffered: Buffer = Buffer.alloc(0);
    const stop = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const timer = setTimeout(() => {
      if (state !== 'awaiting_header') return;
      state = 'refused';
      stop();
      this.refuse(socket, 'timeout', peer, `no complete PROXY header within ${this.headerTimeoutMs} ms (${buffered.length} bytes)`);
    }, this.headerTimeoutMs);
    timer.unref();
    const onClose = (): void => stop();
    const onData = (chunk: Buffer): void => {
      if (state !== 'awaiting_header') return;
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const parsed = parseProxyHeader(buffered);
      if (parsed.status === 'incomplete') return;
      stop();
      if (parsed.status === 'invalid') {
        state = 'refused';
        this.refuse(socket, 'invalid_header', peer, parsed.reason);
        return;
      }
      state = 'handed_over';
      // Paused first: no byte may be emitted between this listener and the next step's.
      socket.pause();
      this.options.connections.set(socket, clientAddressOf(parsed.header, peer, socket.localPort ?? 0));
      this.options.logger.debug({ remote: peer, client_ip: parsed.header.source?.address ?? peer, version: parsed.header.version, command: parsed.header.command }, 'proxy protocol: header accepted');
      const rest = buffered.subarray(parsed.length);
      if (rest.length > 0) socket.unshift(rest);
      next(socket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  }

  private refuse(socket: Socket, reason: ProxyRefusal, peer: string, detail: string): void {
    socket.destroy();
    this.refused[reason] += 1;
    this.refusedSinceSummary[reason] += 1;
    const log = this.options.logger;
    log.debug({ remote: peer, reason, detail }, 'proxy protocol: connection refused');
    const now = Date.now();
    if (now - this.lastSummaryAt < PROXY_REFUSAL_LOG_INTERVAL_MS) return;
    log.info({ refused: this.refusedSinceSummary, last_remote: peer, last_reason: reason, last_detail: detail }, 'proxy protocol: connections refused');
    this.lastSummaryAt = now;
    this.refusedSinceSummary = { untrusted_peer: 0, invalid_header: 0, timeout: 0 };
  }
}

/** The client address of a connection whose header was accepted: the header's source, else (LOCAL, UNKNOWN, UNSPEC) the TCP peer. */
function clientAddressOf(header: ProxyHeader, peer: string, listenerPort: number): { address: string; port: number } {
  const destinationPort = header.destination?.port;
  return {
    address: header.source?.address ?? peer,
    port: destinationPort !== undefined && destinationPort > 0 ? destinationPort : listenerPort,
  };
}
