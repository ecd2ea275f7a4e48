import type http from 'node:http';
import type http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '@hopgate/log';

/**
 * During a drain, an HTTP/1.1 connection (or a new one before its first request) with no
 * request in flight for this long is closed, in ms. Not at once: a client on a busy
 * keep-alive connection sends its next request within a few ms, gets it answered with
 * `Connection: close` and leaves cleanly; closing under it would fail that request.
 */
export const DRAIN_IDLE_CLOSE_MS = 500;
/** Period of the idle-connection sweep during a drain, in ms. */
export const DRAIN_SWEEP_INTERVAL_MS = 100;

/** What ConnectionDrain.run left open when its deadline came (the stop that follows cuts them). */
export interface DrainResult {
  readonly drained: boolean;
  readonly openConnections: number;
}

/**
 * The connections of the ingress's HTTP servers, as the drain needs them: HTTP/1.1 responses
 * in flight per connection, HTTP/2 sessions, upgraded (WebSocket) sockets. run() closes them
 * gracefully: every HTTP/1.1 response not yet started gets `Connection: close` (RFC 9112 §9.6),
 * idle HTTP/1.1 connections are closed after DRAIN_IDLE_CLOSE_MS, every HTTP/2 session gets
 * GOAWAY and ends after its open streams (RFC 9113 §6.8), upgraded connections run to their
 * end; it resolves when none is left or at the deadline.
 */
export class ConnectionDrain {
  /** TLS and plain sockets that carry HTTP; each leaves the set when it closes. */
  private readonly sockets = new Set<Socket>();
  /** HTTP/1.1 responses in flight, per socket. */
  private readonly inFlight = new Map<Socket, Set<http.ServerResponse>>();
  /** When each socket's last HTTP/1.1 response ended (or it arrived): its idle clock. */
  private readonly idleSince = new Map<Socket, number>();
  /** Sockets the drain leaves to something else: HTTP/2 sessions (GOAWAY) and upgrades. */
  private readonly managed = new Set<Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private draining = false;
  private emptied: (() => void) | undefined;

  constructor(private readonly log: Logger) {}

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * A TCP connection of the HTTPS listener, before its TLS handshake: counted until it closes
   * (the drain waits for a handshake in progress), never closed as idle itself (its TLS
   * socket is, once it has one; the handshake deadline bounds the rest).
   */
  accepted(socket: Socket): void {
    this.connection(socket);
    this.managed.add(socket);
  }

  /** A connection of an HTTP server (TLS socket after the handshake, or plain HTTP socket). */
  connection(socket: Socket): void {
    if (this.sockets.has(socket)) return;
    this.sockets.add(socket);
    this.idleSince.set(socket, Date.now());
    // HTTP/2 (ALPN h2): its session's GOAWAY drains it (session.socket is a proxy, not this object).
    if ((socket as Partial<TLSSocket>).alpnProtocol === 'h2') this.managed.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.inFlight.delete(socket);
      this.idleSince.delete(socket);
      this.managed.delete(socket);
      if (this.sockets.size === 0) this.emptied?.();
    });
  }

  /** An HTTP/1.1 request (HTTP/2 ones are the session's); during a drain its response closes the connection. */
  request(req: http.IncomingMessage | http2.Http2ServerRequest, response: http.ServerResponse | http2.Http2ServerResponse): void {
    if (req.httpVersionMajor !== 1) return;
    const socket = req.socket as Socket;
    const res = response as http.ServerResponse;
    this.connection(socket);
    let open = this.inFlight.get(socket);
    if (!open) this.inFlight.set(socket, (open = new Set()));
    open.add(res);
    if (this.draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      open.delete(res);
      this.idleSince.set(socket, Date.now());
    });
  }

  /** An HTTP/2 session: drained by GOAWAY, at once when it starts during a drain. */
  session(session: http2.ServerHttp2Session): void {
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
    if (this.draining && !session.closed) session.close();
  }

  /** A connection handed over to an upgrade (WebSocket): it runs until either side ends it. */
  upgraded(duplex: Duplex): void {
    const socket = duplex as Socket;
    this.connection(socket);
    this.managed.add(socket);
  }

  /** Drains every connection; resolves when none is left or `deadlineMs` passed. */
  async run(deadlineMs: number): Promise<DrainResult> {
    this.draining = true;
    for (const open of this.inFlight.values()) {
      for (const res of open) if (!res.headersSent) res.shouldKeepAlive = false;
    }
    for (const session of this.sessions) if (!session.closed) session.close();
    this.log.info({ connections: this.sockets.size, http2_sessions: this.sessions.size }, 'draining connections');
    if (this.sockets.size === 0) return { drained: true, openConnections: 0 };
    const sweep = setInterval(() => this.closeIdle(), DRAIN_SWEEP_INTERVAL_MS);
    let timer: NodeJS.Timeout | undefined;
    try {
      const drained = await Promise.race([
        new Promise<boolean>((resolve) => (this.emptied = () => resolve(true))),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs))),
      ]);
      return { drained, openConnections: this.sockets.size };
    } finally {
      clearInterval(sweep);
      clearTimeout(timer);
      this.emptied = undefined;
    }
  }

  /** Closes HTTP/1.1 connections idle for DRAIN_IDLE_CLOSE_MS. */
  private closeIdle(): void {
    const now = Date.now();
    for (const socket of this.sockets) {
      if (this.managed.has(socket) || (this.inFlight.get(socket)?.size ?? 0) > 0) continue;
      if (now - (this.idleSince.get(socket) ?? now) >= DRAIN_IDLE_CLOSE_MS) socket.destroy();
    }
  }
}
