import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';
import { type Logger, silentLogger } from '@hopgate/log';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_SESSIONS, UDP_SOCKET_BUFFER_BYTES } from './constants.js';
import { isClientHelloRecord, parseClientHello, type ClientHelloInfo } from './client-hello.js';
import { CookieAuthority, encodeHelloVerifyRequest } from './cookie.js';
import { newHubCounters, type HubCounters } from './hub-counters.js';
import { ContentType, parseRecords, type DtlsRecord } from './record.js';
import type { RecordProtection } from './record-protection.js';
import { loadServerCredentials, type ServerCredentials } from './server-credentials.js';
import { DtlsServerLink } from './server-link.js';
import { WeriftHandshake } from './werift-handshake.js';

/** "No certificate yet" refusals are logged at most once per this many ms. */
export const NO_CERTIFICATE_LOG_INTERVAL_MS = 10_000;

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
  /** HMAC key for stateless cookies; default 32 random bytes. Share it between hubs behind one address. */
  cookieSecret?: Buffer;
  /** Deadline for a handshake after its verified ClientHello; default DEFAULT_HANDSHAKE_TIMEOUT_MS. */
  handshakeTimeoutMs?: number;
  /** Limit of peers (live sessions + handshakes); default DEFAULT_MAX_SESSIONS. */
  maxSessions?: number;
  /** Default silentLogger(); pass a child logger named for the component. */
  logger?: Logger;
}

export interface DtlsHubStats extends HubCounters {
  sessions: number;
  pending_handshakes: number;
}

interface PendingHandshake {
  handshake: WeriftHandshake;
  timer: NodeJS.Timeout;
}

interface Peer {
  address: string;
  port: number;
  family: string;
}

function formatRemote(peer: Peer): string {
  return peer.family === 'IPv6' ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}

export interface DtlsHubServer {
  /** A handshake completed: the new session's link. */
  on(event: 'session', listener: (link: DtlsServerLink) => void): this;
  once(event: 'session', listener: (link: DtlsServerLink) => void): this;
  off(event: 'session', listener: (link: DtlsServerLink) => void): this;
  emit(event: 'session', link: DtlsServerLink): boolean;
}

/**
 * The hub's DTLS 1.2 server: one UDP socket, peers demultiplexed by address:port, each
 * handshake run by werift-dtls behind a stateless HMAC cookie exchange (RFC 6347 §4.2.1).
 * Emits 'session' (link: DtlsServerLink) for every completed handshake.
 */
export class DtlsHubServer extends EventEmitter {
  private readonly live = new Map<string, DtlsServerLink>();
  private readonly pending = new Map<string, PendingHandshake>();
  private readonly counters = newHubCounters();
  private readonly cookies: CookieAuthority;
  private readonly logger: Logger;
  private readonly handshakeTimeoutMs: number;
  private readonly maxSessions: number;
  private credentials: ServerCredentials | undefined;
  private closed = false;
  private lastNoCertificateLog = 0;

  private constructor(
    private readonly socket: dgram.Socket,
    credentials: ServerCredentials | undefined,
    options: DtlsServerOptions,
  ) {
    super();
    this.credentials = credentials;
    this.cookies = new CookieAuthority(options.cookieSecret);
    this.logger = options.logger ?? silentLogger();
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    socket.on('message', (datagram, rinfo) => this.onMessage(datagram, rinfo));
    socket.on('error', (err) => this.logger.warn({ err }, 'udp socket error'));
  }

  /** Binds the socket and starts serving. Rejects with HopError(BadConfig) for a bad cert/key, or only one of them. */
  static async listen(options: DtlsServerOptions): Promise<DtlsHubServer> {
    if ((options.certPem === undefined) !== (options.keyPem === undefined)) {
      throw new HopError(ErrorCode.BadConfig, 'DTLS certificate and key: give both or neither');
    }
    const credentials = options.certPem !== undefined && options.keyPem !== undefined ? loadServerCredentials(options.certPem, options.keyPem) : undefined;
    const socket = dgram.createSocket({
      type: isIPv6(options.host) ? 'udp6' : 'udp4',
      recvBufferSize: UDP_SOCKET_BUFFER_BYTES,
      sendBufferSize: UDP_SOCKET_BUFFER_BYTES,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port, options.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const server = new DtlsHubServer(socket, credentials, options);
    server.logger.info({ address: server.address() }, 'dtls hub listening');
    return server;
  }

  address(): { address: string; port: number } {
    const { address, port } = this.socket.address();
    return { address, port };
  }

  /** Replaces the certificate and key for new handshakes; live sessions keep theirs. Throws HopError(BadConfig). */
  setCertificate(certPem: string, keyPem: string): void {
    this.credentials = loadServerCredentials(certPem, keyPem);
    this.logger.info({ subject: this.credentials.leaf.subject.replace(/\n/g, ', ') }, 'dtls certificate replaced');
  }

  /** True once a certificate is set: handshakes are served. */
  get hasCertificate(): boolean {
    return this.credentials !== undefined;
  }

  /** Live sessions. */
  get sessionCount(): number {
    return this.live.size;
  }

  stats(): DtlsHubStats {
    return { ...this.counters, sessions: this.live.size, pending_handshakes: this.pending.size };
  }

  /** Sends close_notify to every session, abandons handshakes and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const link of [...this.live.values()]) link.close();
    for (const remote of [...this.pending.keys()]) this.dropPending(remote);
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(datagram: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    try {
      const records = parseRecords(datagram);
      if (!records) {
        this.counters.garbage_dropped += 1;
        return;
      }
      const peer = { address: rinfo.address, port: rinfo.port, family: rinfo.family };
      const remote = formatRemote(peer);
      for (const record of records) this.route(record, remote, peer);
    } catch (err) {
      this.counters.internal_errors += 1;
      this.logger.warn({ err, remote: formatRemote(rinfo) }, 'error handling a datagram');
    }
  }

  private route(record: DtlsRecord, remote: string, peer: Peer): void {
    if (isClientHelloRecord(record)) {
      this.onClientHello(record, remote, peer);
      return;
    }
    const pending = this.pending.get(remote);
    const live = this.live.get(remote);
    switch (record.type) {
      case ContentType.ApplicationData:
        if (live && record.epoch !== 0) live.handleProtectedRecord(record);
        else this.counters.stray_dropped += 1;
        return;
      case ContentType.Alert:
        if (record.epoch !== 0) {
          if (live) live.handleProtectedRecord(record);
          else this.counters.stray_dropped += 1;
        } else if (pending) {
          // A plaintext alert can only concern a handshake in progress (RFC 5246 §7.2).
          this.counters.handshake_failures += 1;
          this.logger.debug({ remote }, 'peer aborted its handshake with an alert');
          this.dropPending(remote);
        } else {
          this.counters.stray_dropped += 1;
        }
        return;
      default:
        // Handshake and ChangeCipherSpec: the handshake in progress, else the live session's
        // werift (it answers a retransmitted final client flight).
        if (pending) pending.handshake.feed(record.bytes);
        else if (live) live.handleHandshakeRecord(record);
        else this.counters.stray_dropped += 1;
    }
  }

  private onClientHello(record: DtlsRecord, remote: string, peer: Peer): void {
    const hello = parseClientHello(record);
    if (!hello) {
      this.counters.garbage_dropped += 1;
      return;
    }
    // RFC 6347 §4.2.1: without a valid cookie, answer statelessly and allocate nothing.
    if (!this.cookies.verify(peer.address, peer.port, hello)) {
      if (hello.cookie.length > 0) this.counters.bad_cookies += 1;
      const cookie = this.cookies.make(peer.address, peer.port, hello);
      this.sendTo(encodeHelloVerifyRequest(hello, cookie), peer);
      this.counters.cookies_sent += 1;
      return;
    }
    const pending = this.pending.get(remote);
    if (pending?.handshake.clientRandom.equals(hello.random)) {
      pending.handshake.feed(record.bytes); // retransmitted ClientHello: werift resends flight 4
      return;
    }
    const live = this.live.get(remote);
    if (live?.clientRandom.equals(hello.random)) return; // late copy of the live session's hello
    const credentials = this.credentials;
    if (!credentials) {
      this.counters.handshakes_refused_no_certificate += 1;
      const now = Date.now();
      if (now - this.lastNoCertificateLog >= NO_CERTIFICATE_LOG_INTERVAL_MS) {
        this.lastNoCertificateLog = now;
        this.logger.warn({ remote }, 'handshake refused: this hub has no certificate yet');
      }
      return;
    }
    if (!pending && !live && this.live.size + this.pending.size >= this.maxSessions) {
      this.counters.sessions_refused += 1;
      this.logger.warn({ remote, max_sessions: this.maxSessions }, 'session limit reached, handshake refused');
      return;
    }
    this.startHandshake(record, hello, remote, peer, credentials);
  }

  private startHandshake(record: DtlsRecord, hello: ClientHelloInfo, remote: string, peer: Peer, credentials: ServerCredentials): void {
    if (this.pending.has(remote)) this.dropPending(remote);
    const handshake: WeriftHandshake = new WeriftHandshake(hello, {
      credentials,
      send: (datagram) => this.sendTo(datagram, peer),
      onConnected: () => this.promote(remote, handshake, peer),
      onFailed: (err) => this.failPending(remote, handshake, err),
    });
    const timer = setTimeout(() => {
      if (this.pending.get(remote)?.handshake !== handshake) return;
      this.counters.handshake_timeouts += 1;
      this.logger.debug({ remote, timeout_ms: this.handshakeTimeoutMs }, 'handshake timed out');
      this.dropPending(remote);
    }, this.handshakeTimeoutMs);
    timer.unref();
    this.pending.set(remote, { handshake, timer });
    try {
      handshake.start(record.bytes);
    } catch (err) {
      this.failPending(remote, handshake, err instanceof Error ? err : new Error(errorMessageOf(err)));
    }
  }

  private failPending(remote: string, handshake: WeriftHandshake, err: Error): void {
    if (this.pending.get(remote)?.handshake !== handshake) return;
    this.counters.handshake_failures += 1;
    this.logger.debug({ remote, reason: err.message }, 'handshake failed');
    this.dropPending(remote);
  }

  private dropPending(remote: string): void {
    const entry = this.pending.get(remote);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.handshake.abort();
    this.pending.delete(remote);
  }

  private promote(remote: string, handshake: WeriftHandshake, peer: Peer): void {
    const entry = this.pending.get(remote);
    if (entry?.handshake !== handshake) return;
    let protection: RecordProtection;
    try {
      protection = handshake.protection();
    } catch (err) {
      this.failPending(remote, handshake, err instanceof Error ? err : new Error(errorMessageOf(err)));
      return;
    }
    clearTimeout(entry.timer);
    this.pending.delete(remote);
    const link: DtlsServerLink = new DtlsServerLink({
      remote,
      clientRandom: handshake.clientRandom,
      protection,
      counters: this.counters,
      logger: this.logger,
      sendRaw: (datagram) => this.sendTo(datagram, peer),
      feedHandshake: (bytes) => handshake.feed(bytes),
      release: () => {
        handshake.abort();
        if (this.live.get(remote) === link) this.live.delete(remote);
        this.logger.debug({ remote }, 'dtls session closed');
      },
    });
    const previous = this.live.get(remote);
    this.live.set(remote, link);
    if (previous) {
      this.counters.sessions_replaced += 1;
      previous.terminate(new HopError(ErrorCode.SessionReplaced, `DTLS session ${remote} replaced by a new handshake`));
    }
    this.counters.handshakes += 1;
    this.logger.debug({ remote }, 'dtls session established');
    this.emit('session', link);
  }

  private sendTo(datagram: Buffer, peer: Peer): void {
    if (this.closed) return;
    this.socket.send(datagram, peer.port, peer.address, (err) => {
      if (err) this.logger.debug({ err, remote: formatRemote(peer) }, 'udp send failed');
    });
  }
}
