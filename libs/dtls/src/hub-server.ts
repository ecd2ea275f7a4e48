import dgram from 'node:dgram';
import dns from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP, isIPv6 } from 'node:net';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';
import { type Logger, silentLogger, ThrottledLog } from '@hopgate/log';
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES,
  MAX_HANDSHAKE_RATE_SOURCES,
  REFUSAL_LOG_INTERVAL_MS,
  UDP_SOCKET_BUFFER_BYTES,
} from './constants.js';
import { isClientHelloRecord, parseClientHello, type ClientHelloInfo } from './client-hello.js';
import { CookieAuthority, helloVerifyRequestWithin } from './cookie.js';
import { FinalFlight } from './final-flight.js';
import { HandshakeBudget } from './handshake-budget.js';
import { checkClientFlightRecord, type HandshakeFragmentHeader } from './handshake-fragment.js';
import { newHubCounters, type HubCounters } from './hub-counters.js';
import { PeerAdmission, sourceKeyOf, type AdmissionRefusal } from './peer-admission.js';
import { ContentType, parseRecords, type DtlsRecord } from './record.js';
import type { RecordProtection } from './record-protection.js';
import { loadServerCredentials, type ServerCredentials } from './server-credentials.js';
import { DtlsServerLink } from './server-link.js';
import { serverLimits, type DtlsServerOptions, type ServerLimits } from './server-options.js';
import { SourceTokenBuckets } from './source-token-buckets.js';
import { WeriftHandshake } from './werift-handshake.js';
import type { RecordParts } from './aes-gcm-record-cipher.js';

/** "No certificate yet" refusals are logged at most once per this many ms. */
export const NO_CERTIFICATE_LOG_INTERVAL_MS = REFUSAL_LOG_INTERVAL_MS;

/** The epoch of the records a handshake protects: its encrypted Finished (RFC 6347 §4.1). */
const HANDSHAKE_PROTECTED_EPOCH = 1;

export interface DtlsHubStats extends HubCounters {
  sessions: number;
  pending_handshakes: number;
  /** Live sessions not yet marked authenticated. */
  unauthenticated_sessions: number;
  /** Sources (IPv4 addresses, IPv6 /64s) with a handshake or an unauthenticated session. */
  admission_sources: number;
  /** Sources (IPv4 addresses, IPv6 /64s) that started a handshake recently enough that their rate bucket may not be full. */
  rate_sources: number;
}

interface PendingHandshake {
  handshake: WeriftHandshake;
  timer: NodeJS.Timeout;
  /** The per-IP key it counts under. */
  source: string;
  budget: HandshakeBudget;
}

interface Peer {
  address: string;
  port: number;
  family: string;
}

/**
 * dgram's address lookup: peers' addresses are IP literals (from rinfo), answered at once;
 * dns.lookup answers even a literal on the next tick, which cost a tick per datagram sent.
 * Host names (a bind address given by name) still go through dns.lookup.
 */
function literalAddressLookup(
  address: string,
  family: dns.LookupOneOptions | number,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const literal = isIP(address);
  if (literal !== 0) callback(null, address, literal);
  else dns.lookup(address, family as dns.LookupOneOptions, callback);
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
  private readonly refusals: ThrottledLog;
  private readonly admission: PeerAdmission;
  /** Handshakes each source may start: `handshakeBurstPerIp` at once, `handshakesPerIpPerS` sustained. */
  private readonly handshakeRate: SourceTokenBuckets;
  private readonly handshakeTimeoutMs: number;
  private readonly maxSessions: number;
  private readonly statsTimer: NodeJS.Timeout | undefined;
  private lastLoggedStats = '';
  private credentials: ServerCredentials | undefined;
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    credentials: ServerCredentials | undefined,
    options: DtlsServerOptions,
    limits: ServerLimits,
  ) {
    super();
    this.credentials = credentials;
    this.cookies = new CookieAuthority(options.cookieSecret);
    this.logger = options.logger ?? silentLogger();
    this.refusals = new ThrottledLog(this.logger, REFUSAL_LOG_INTERVAL_MS);
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.maxSessions = limits.maxSessions;
    this.admission = new PeerAdmission(limits);
    this.handshakeRate = new SourceTokenBuckets({ burst: limits.handshakeBurstPerIp, ratePerS: limits.handshakesPerIpPerS, maxSources: MAX_HANDSHAKE_RATE_SOURCES });
    this.lastLoggedStats = JSON.stringify(this.stats());
    if (limits.statsLogIntervalMs > 0) {
      this.statsTimer = setInterval(() => this.logStatsIfChanged(), limits.statsLogIntervalMs);
      this.statsTimer.unref();
    }
    socket.on('message', (datagram, rinfo) => this.onMessage(datagram, rinfo));
    socket.on('error', (err) => this.logger.warn({ err }, 'udp socket error'));
  }

  /** Binds the socket and starts serving. Rejects with HopError(BadConfig) for a bad cert/key, only one of them, or a bad limit. */
  static async listen(options: DtlsServerOptions): Promise<DtlsHubServer> {
    if ((options.certPem === undefined) !== (options.keyPem === undefined)) {
      throw new HopError(ErrorCode.BadConfig, 'DTLS certificate and key: give both or neither');
    }
    const limits = serverLimits(options);
    const credentials = options.certPem !== undefined && options.keyPem !== undefined ? loadServerCredentials(options.certPem, options.keyPem) : undefined;
    const socket = dgram.createSocket({
      type: isIPv6(options.host) ? 'udp6' : 'udp4',
      recvBufferSize: UDP_SOCKET_BUFFER_BYTES,
      sendBufferSize: UDP_SOCKET_BUFFER_BYTES,
      lookup: literalAddressLookup,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port, options.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const server = new DtlsHubServer(socket, credentials, options, limits);
    server.logger.info(
      {
        address: server.address(),
        max_sessions: limits.maxSessions,
        max_handshakes_per_ip: limits.maxHandshakesPerIp,
        max_unauthenticated_per_ip: limits.maxUnauthenticatedPerIp,
        max_unauthenticated: limits.maxUnauthenticated,
        handshakes_per_ip_per_s: limits.handshakesPerIpPerS,
        handshake_burst_per_ip: limits.handshakeBurstPerIp,
      },
      'dtls hub listening',
    );
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
    return {
      ...this.counters,
      sessions: this.live.size,
      pending_handshakes: this.pending.size,
      unauthenticated_sessions: this.admission.unauthenticatedSessions,
      admission_sources: this.admission.sourceCount,
      rate_sources: this.handshakeRate.sourceCount,
    };
  }

  /** Sends close_notify to every session, abandons handshakes and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.statsTimer) clearInterval(this.statsTimer);
    for (const link of [...this.live.values()]) link.close();
    for (const remote of [...this.pending.keys()]) this.dropPending(remote);
    this.logStatsIfChanged();
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  /** The last datagram's source and its key (see remoteKey). An address names one family. */
  private lastRemotePort = -1;
  private lastRemoteAddress = '';
  private lastRemote = '';

  private onMessage(datagram: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    try {
      const records = parseRecords(datagram);
      if (!records) {
        this.counters.garbage_dropped += 1;
        return;
      }
      const remote = this.remoteKey(rinfo);
      const hello = records.find(isClientHelloRecord);
      if (hello) {
        const peer = { address: rinfo.address, port: rinfo.port, family: rinfo.family };
        // One datagram starts one unit of work: its first ClientHello, and one reply at most
        // (RFC 6347 §4.2.1: the cookie exchange must not amplify).
        this.counters.datagram_records_dropped += records.length - 1;
        this.onClientHello(hello, remote, peer, datagram.length);
        return;
      }
      for (const record of records) this.route(record, remote);
    } catch (err) {
      this.counters.internal_errors += 1;
      this.logger.warn({ err, remote: formatRemote(rinfo) }, 'error handling a datagram');
    }
  }

  /**
   * The session key of a datagram's source. Datagrams come in runs from one peer (a burst of
   * one session's packets), so the last source's key is kept: a run builds no key string and
   * the Map lookups reuse one already hashed.
   */
  private remoteKey(rinfo: dgram.RemoteInfo): string {
    if (rinfo.port !== this.lastRemotePort || rinfo.address !== this.lastRemoteAddress) {
      this.lastRemotePort = rinfo.port;
      this.lastRemoteAddress = rinfo.address;
      this.lastRemote = formatRemote(rinfo);
    }
    return this.lastRemote;
  }

  private route(record: DtlsRecord, remote: string): void {
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
        // Handshake and ChangeCipherSpec: the handshake in progress, else the live session
        // (which hands werift an exact retransmission of the final client flight only).
        if (pending) this.feedPending(record, remote, pending);
        else if (live) live.handleHandshakeRecord(record);
        else this.counters.stray_dropped += 1;
    }
  }

  /**
   * A handshake or ChangeCipherSpec record for a handshake in progress: checked (RFC 6347
   * §4.2.3) and charged to the handshake's budget before werift buffers anything for it.
   */
  private feedPending(record: DtlsRecord, remote: string, pending: PendingHandshake): void {
    let fragments: HandshakeFragmentHeader[] = [];
    if (record.epoch === 0) {
      const checked = checkClientFlightRecord(record, MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES);
      if (!checked) {
        this.counters.handshake_records_invalid += 1;
        return;
      }
      fragments = checked;
    } else if (record.epoch !== HANDSHAKE_PROTECTED_EPOCH || record.type !== ContentType.Handshake) {
      this.counters.stray_dropped += 1;
      return;
    }
    if (!pending.budget.charge(fragments)) {
      this.exceedBudget(remote);
      return;
    }
    pending.handshake.feed(record.bytes);
  }

  private exceedBudget(remote: string): void {
    this.counters.handshake_limits_exceeded += 1;
    this.refusals.warn('handshake_limits', { remote }, 'handshake dropped: the peer sent more handshake records or fragments than allowed');
    this.dropPending(remote);
  }

  private onClientHello(record: DtlsRecord, remote: string, peer: Peer, datagramBytes: number): void {
    const hello = parseClientHello(record);
    if (!hello) {
      this.counters.garbage_dropped += 1;
      return;
    }
    // RFC 6347 §4.2.1: without a valid cookie, answer statelessly and allocate nothing.
    if (!this.cookies.verify(peer.address, peer.port, hello)) {
      if (hello.cookie.length > 0) this.counters.bad_cookies += 1;
      const request = helloVerifyRequestWithin(hello, this.cookies.make(peer.address, peer.port, hello), datagramBytes);
      if (!request) {
        this.counters.hello_verify_suppressed += 1;
        return;
      }
      this.sendTo(request, peer);
      this.counters.cookies_sent += 1;
      return;
    }
    const pending = this.pending.get(remote);
    if (pending?.handshake.clientRandom.equals(hello.random)) {
      // A retransmitted ClientHello: werift resends flight 4, within the handshake's budget.
      if (pending.budget.charge()) pending.handshake.feed(record.bytes);
      else this.exceedBudget(remote);
      return;
    }
    const live = this.live.get(remote);
    if (live?.clientRandom.equals(hello.random)) return; // late copy of the live session's hello
    const credentials = this.credentials;
    if (!credentials) {
      this.counters.handshakes_refused_no_certificate += 1;
      this.refusals.warn('no_certificate', { remote }, 'handshake refused: this hub has no certificate yet');
      return;
    }
    if (!pending && !live && this.live.size + this.pending.size >= this.maxSessions) {
      this.counters.sessions_refused += 1;
      this.refusals.warn('max_sessions', { remote, max_sessions: this.maxSessions }, 'session limit reached, handshake refused');
      return;
    }
    const source = sourceKeyOf(peer.address);
    // A new hello from a peer with a handshake in progress replaces it: no new admission.
    const refusal = pending ? undefined : this.admission.refusal(source);
    if (refusal) {
      this.refuse(refusal, remote, source);
      return;
    }
    // Last, so that only a handshake that starts takes a token; a replacing hello starts a new werift too.
    if (!this.handshakeRate.take(source)) {
      this.counters.handshakes_refused_ip_rate += 1;
      const { burst, ratePerS } = this.handshakeRate.limits;
      this.refusals.warn('ip_rate', { remote, source, handshakes_per_ip_per_s: ratePerS, handshake_burst_per_ip: burst }, 'handshake refused: this address starts handshakes faster than allowed');
      return;
    }
    this.startHandshake(record, hello, remote, source, peer, credentials);
  }

  private refuse(refusal: AdmissionRefusal, remote: string, source: string): void {
    switch (refusal) {
      case 'ip_handshakes':
        this.counters.handshakes_refused_ip_handshakes += 1;
        this.refusals.warn(refusal, { remote, source, max_handshakes_per_ip: this.admission.limits.maxHandshakesPerIp }, 'handshake refused: too many handshakes from this address');
        return;
      case 'ip_unauthenticated':
        this.counters.handshakes_refused_ip_unauthenticated += 1;
        this.refusals.warn(refusal, { remote, source, max_unauthenticated_per_ip: this.admission.limits.maxUnauthenticatedPerIp }, 'handshake refused: too many unauthenticated sessions from this address');
        return;
      case 'unauthenticated_share':
        this.counters.handshakes_refused_unauthenticated_share += 1;
        this.refusals.warn(refusal, { remote, source, max_unauthenticated: this.admission.limits.maxUnauthenticated }, 'handshake refused: the share of sessions kept for unauthenticated peers is full');
        return;
    }
  }

  private startHandshake(record: DtlsRecord, hello: ClientHelloInfo, remote: string, source: string, peer: Peer, credentials: ServerCredentials): void {
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
    const budget = new HandshakeBudget();
    budget.charge();
    this.pending.set(remote, { handshake, timer, source, budget });
    this.admission.handshakeStarted(source);
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
    this.admission.handshakeEnded(entry.source);
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
    const { source } = entry;
    this.admission.handshakeCompleted(source);
    const finalFlight = new FinalFlight(handshake.clientFinalFlight(), handshake);
    const link = this.newLink(remote, peer, source, handshake.clientRandom, protection, finalFlight);
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

  /**
   * The session's link. Its closures are made here, away from `promote`'s scope, so that none
   * of them holds the handshake: only `finalFlight` does, until it settles (FinalFlight).
   */
  private newLink(remote: string, peer: Peer, source: string, clientRandom: Buffer, protection: RecordProtection, finalFlight: FinalFlight): DtlsServerLink {
    const link: DtlsServerLink = new DtlsServerLink({
      remote,
      clientRandom,
      protection,
      counters: this.counters,
      logger: this.logger,
      sendRaw: (datagram) => this.sendTo(datagram, peer),
      finalFlight,
      onAuthenticated: () => this.admission.authenticated(source),
      release: () => {
        if (!link.isAuthenticated) this.admission.unauthenticatedClosed(source);
        if (this.live.get(remote) === link) this.live.delete(remote);
        this.logger.debug({ remote }, 'dtls session closed');
      },
    });
    return link;
  }

  /** Logs `stats()` at info when a figure changed since the last time (periodic, and at close). */
  private logStatsIfChanged(): void {
    const stats = this.stats();
    const snapshot = JSON.stringify(stats);
    if (snapshot === this.lastLoggedStats) return;
    this.lastLoggedStats = snapshot;
    this.logger.info({ dtls: stats }, 'dtls counters');
  }

  /**
   * Sends without a callback: Node then finishes a send that the kernel took at once without a
   * process.nextTick per datagram (a callback costs one even on success). A send that fails is
   * a lost datagram, which UDP allows and the transport repairs.
   */
  private sendTo(datagram: Buffer | RecordParts, peer: Peer): void {
    if (this.closed) return;
    this.socket.send(datagram, peer.port, peer.address);
  }
}
