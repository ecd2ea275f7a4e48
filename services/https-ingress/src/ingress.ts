import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import tls from 'node:tls';
import type { Redis } from 'ioredis';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { containedCallback, type Logger } from '@hopgate/log';
import type { IngressConfig, ListenAddress } from '@hopgate/config';
import { RedisKeys, NatsSubjects } from '@hopgate/keys';
import { RouteLoader } from '@hopgate/routes';
import { InstanceStore, OwnerCache, type LiveInstance } from '@hopgate/sessions';
import { InstancePicker } from './instance-picker.js';
import { RelayClient, NATS_NO_ASYNC_TRACES, NATS_PENDING_LIMIT_BYTES } from '@hopgate/relay';
import { connectRedis, connectNats, DATA_PATH_REDIS_OPTIONS } from '@hopgate/runtime';
import { proxyRequest, type ProxyContext } from './proxy-handler.js';
import { redirectToHttps } from './redirect.js';
import { proxyUpgrade } from './upgrade-handler.js';
import { writeRawError } from './raw-response.js';
import { answerClientError } from './client-error.js';
import { afterPendingResponses } from './pending-responses.js';
import { sendError } from './error-status.js';
import type { PublicRequest, PublicResponse } from './public-http.js';
import { isAcmeHttp01, answerAcmeHttp01 } from './acme-http01.js';
import { ChallengeStore, decodeCertUpdated } from '@hopgate/certs';
import { errorMessageOf } from '@hopgate/errors';
import { CertificateContexts } from './certificate-contexts.js';
import { handleTlsConnection } from './tls-front.js';
import { ConnectionAddresses } from './client-address.js';
import { ProxyProtocolFront } from './proxy-protocol-front.js';
import { guardStreamResets } from './stream-resets.js';
import { ConnectionLimit } from './connection-limit.js';
import { HandshakeDeadlines } from './handshake-deadline.js';
import { ConnectionDrain } from './connection-drain.js';
import { RequestIds } from './request-ids.js';
import { READY, notReady, firstNotReady, natsReadiness, redisReadiness, type Readiness } from '@hopgate/runtime';
import { IngressMetrics, addBusGauges, addCertificateExpiry, addRelayMetrics, type Registry } from '@hopgate/metrics';

/** Headers must arrive within this time, in ms (slowloris guard). */
export const HEADERS_TIMEOUT_MS = 30_000;
/** Idle keep-alive connections are closed after this time, in ms. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** An HTTP/2 connection with no frame either way and no open stream is closed (GOAWAY) after this time, in ms. */
export const H2_SESSION_IDLE_TIMEOUT_MS = KEEP_ALIVE_TIMEOUT_MS;

/**
 * The knobs node's HTTP/1.1 server machinery reads from the server object. An HTTP/2
 * server with `allowHTTP1` hands HTTP/1.1 connections to that machinery too, but its
 * typings do not list them.
 */
interface Http1ServerLimits {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  maxHeaderSize: number;
  maxHeadersCount: number;
  requireHostHeader: boolean;
}

type PublicServer = http.Server | http2.Http2SecureServer;

/**
 * The https-ingress: TLS edge + plain HTTP (redirect or serve), route table in memory,
 * session owners cached, requests relayed over NATS to the owning hub.
 */
export class Ingress {
  private redis: Redis | undefined;
  private nc: NatsConnection | undefined;
  private routes: RouteLoader | undefined;
  private relay: RelayClient | undefined;
  private owners: OwnerCache<LiveInstance[]> | undefined;
  private readonly picker = new InstancePicker();
  private claimedSub: Subscription | undefined;
  private certUpdatedSub: Subscription | undefined;
  private certificates: CertificateContexts | undefined;
  /** The public TCP listener of the HTTPS port; it hands connections to the HTTP/2 TLS server (tls-front.ts). */
  private httpsFront: NetServer | undefined;
  /** The public TCP listener of the HTTP port: the HTTP server itself, or a PROXY protocol front that hands connections to it. */
  private httpListener: NetServer | undefined;
  /** Reads the PROXY protocol header of every connection first (HOPGATE_PROXY_PROTOCOL=true). */
  private proxyProtocol: ProxyProtocolFront | undefined;
  /** Open connections of both listeners, destroyed on stop. */
  private readonly sockets = new Set<Socket>();
  /** Each connection's client address: the PROXY protocol source or the TCP peer. */
  readonly connections = new ConnectionAddresses();
  /** HTTP connections as the drain sees them (in-flight responses, HTTP/2 sessions, upgrades). */
  private readonly drainer: ConnectionDrain;
  /** Request counters (GET /metrics), once runService registered them. */
  private requestMetrics: IngressMetrics | undefined;
  /** Mints every request id of this ingress (request-ids.ts). */
  private readonly requestIds: RequestIds;

  constructor(
    private readonly config: IngressConfig,
    private readonly logger: Logger,
  ) {
    this.log = logger.child({ component: 'ingress' });
    this.requestIds = new RequestIds(config.ingressId);
    this.drainer = new ConnectionDrain(this.log.child({ phase: 'drain' }));
  }

  private readonly log: Logger;

  /** The ingress's collectors (runService calls it before start): requests, routes, Redis/NATS, relay, certificates. */
  metrics(registry: Registry): void {
    this.requestMetrics = new IngressMetrics(registry, { routeCount: () => this.routes?.current.size });
    addBusGauges(registry, {
      redisConnected: () => redisReadiness(this.redis).ready,
      natsConnected: () => natsReadiness(this.nc).ready,
    });
    addRelayMetrics(registry, () => this.relay);
    addCertificateExpiry(registry, () => this.certificates?.loaded() ?? []);
  }

  async start(): Promise<void> {
    const cfg = this.config;
    const keys = new RedisKeys(cfg.redisPrefix);
    const subjects = new NatsSubjects();
    // On the request path (owners, certificates, challenges): fail fast and serve what is cached (docs/operations.md).
    this.redis = await connectRedis(cfg, { name: 'hopgate-ingress', logger: this.logger, waitUntilReachable: true, options: DATA_PATH_REDIS_OPTIONS });
    this.routes = new RouteLoader({
      redis: cfg,
      keys,
      reloadIntervalMs: cfg.routeReloadIntervalMs,
      logger: this.logger,
      loadFallbacks: true,
    });
    await this.routes.start();
    this.owners = new OwnerCache(new InstanceStore(this.redis, keys), { ttlMs: cfg.ownerCacheTtlMs });
    this.nc = await connectNats(cfg, { name: `https-ingress-${cfg.ingressId}`, service: 'ingress', logger: this.logger, noAsyncTraces: NATS_NO_ASYNC_TRACES, pendingLimitBytes: NATS_PENDING_LIMIT_BYTES, waitUntilReachable: true });
    this.relay = new RelayClient({
      nc: this.nc,
      subjects,
      ingressId: cfg.ingressId,
      logger: this.logger,
    });
    await this.relay.start();
    this.claimedSub = this.nc.subscribe(subjects.sessionClaimed, {
      callback: containedCallback(this.log, 'session.claimed handling', (err, msg) => {
        if (err) return;
        try {
          const claim = JSON.parse(Buffer.from(msg.data).toString('utf8')) as { client_id?: unknown };
          if (typeof claim.client_id === 'string') this.owners?.invalidate(claim.client_id);
        } catch {
          // Not ours to fix: ignore malformed broadcasts.
        }
      }),
    });
    if (cfg.proxyProtocol) {
      this.proxyProtocol = new ProxyProtocolFront({
        trustedProxies: cfg.trustedProxies,
        connections: this.connections,
        logger: this.log.child({ listener: 'proxy-protocol' }),
      });
    }
    if (!cfg.trustedProxies.isEmpty) {
      this.log.info({ trusted_proxies: cfg.trustedProxies.toString(), proxy_protocol: cfg.proxyProtocol }, 'client addresses from trusted proxies');
    }
    if (cfg.trustedProxies.hasCatchAll) {
      // Every address is then a trusted proxy, the clients a PROXY header names included.
      this.log.warn({ trusted_proxies: cfg.trustedProxies.toString() }, 'HOPGATE_TRUSTED_PROXIES holds a /0 range: every client\'s own X-Forwarded-For is believed; list the load balancers\' addresses instead');
    }
    const ctx: ProxyContext = {
      routes: this.routes,
      owners: this.owners,
      picker: this.picker,
      relay: this.relay,
      responseTimeoutMs: cfg.responseTimeoutMs,
      serverTiming: cfg.serverTiming,
      bodyIdleTimeoutMs: cfg.bodyIdleTimeoutMs,
      bodyStartTimeoutMs: cfg.bodyStartTimeoutMs,
      maxHeaderBytes: cfg.maxHeaderBytes,
      nextRequestId: () => this.requestIds.next(),
      logger: this.logger.child({ component: 'proxy' }),
      trustedProxies: cfg.trustedProxies,
      connections: this.connections,
      metrics: this.requestMetrics,
    };
    // One count per client address over both listeners (HOPGATE_MAX_CONNECTIONS_PER_IP).
    const connections = new ConnectionLimit({ maxPerAddress: cfg.maxConnectionsPerIp, logger: this.log });
    if (cfg.httpsListen) {
      const fileCert = cfg.tlsCertFile && cfg.tlsKeyFile
        ? { cert: fs.readFileSync(cfg.tlsCertFile, 'utf8'), key: fs.readFileSync(cfg.tlsKeyFile, 'utf8') }
        : undefined;
      const certificates = new CertificateContexts({
        redis: this.redis,
        keys,
        logger: this.logger,
        defaultContext: fileCert ? tls.createSecureContext(fileCert) : undefined,
        rereadIntervalMs: cfg.certRereadIntervalMs,
      });
      this.certificates = certificates;
      certificates.start();
      this.certUpdatedSub = this.nc.subscribe(subjects.certUpdated, {
        callback: containedCallback(this.log, 'cert.updated handling', (err, msg) => {
          if (err) return;
          const name = decodeCertUpdated(msg.data);
          if (name !== undefined) certificates.invalidate(name);
        }),
      });
      // HTTP/2 by ALPN, HTTP/1.1 (and its WebSocket upgrades) for everyone else on the same port.
      const server = http2.createSecureServer({
        ...(fileCert ?? {}),
        // RFC 6066 §3: the certificate follows the name asked; the front (tls-front.ts) already
        // looked it up, so this is a cache hit. The contexts carry no ALPN: node's own ALPN
        // callback (h2, http/1.1) stays in force after the SNI switch.
        SNICallback: (servername, cb) => {
          certificates.select(servername).then(
            (selected) => cb(null, selected?.context),
            (err: unknown) => cb(err instanceof Error ? err : new Error(errorMessageOf(err))),
          );
        },
        // ALPN offers h2 then http/1.1 (RFC 7301 §3.2); node builds the list from allowHTTP1.
        allowHTTP1: true,
        // Node's own clock, from the hand-over: a backstop; the front's deadline (from connect) comes first.
        handshakeTimeout: cfg.tlsHandshakeTimeoutMs,
        // RFC 9113 §6.5.2: larger header lists get the stream reset before any handler runs;
        // streams above the concurrency cap are refused (RFC 9113 §5.1.2).
        settings: { maxHeaderListSize: cfg.maxHeaderBytes, maxConcurrentStreams: cfg.h2MaxConcurrentStreams },
      });
      server.on('request', (req, res) => {
        this.drainer.request(req, res);
        proxyRequest(req, res, 'https', ctx);
      });
      server.on('checkContinue', (req, res) => {
        this.drainer.request(req, res);
        proxyRequest(req, res, 'https', ctx, true);
      });
      server.on('upgrade', (req: http.IncomingMessage, socket: Socket, early: Buffer) => {
        this.drainer.upgraded(socket);
        proxyUpgrade(req, socket, early, 'https', ctx);
      });
      const frontLog = this.log.child({ listener: 'https' });
      server.on('session', (session) => {
        this.drainer.session(session);
        closeWhenIdle(session);
        guardStreamResets(session, { maxResetsPerWindow: cfg.h2MaxResetsPerWindow, remote: this.connections.of(session.socket).address, logger: frontLog });
      });
      server.on('sessionError', (err) => this.log.debug({ err: err.message }, 'https: HTTP/2 connection error'));
      const deadlines = new HandshakeDeadlines(cfg.tlsHandshakeTimeoutMs, frontLog);
      server.on('secureConnection', (socket: Socket) => {
        this.track(socket);
        this.drainer.connection(socket);
        deadlines.settle(socket);
      });
      this.configure(server, 'https', ctx);
      const challenges = new ChallengeStore(this.redis, keys);
      // noDelay: http.Server sets TCP_NODELAY only on sockets its own listener accepts, not on the
      // ones a front hands over; without it Nagle holds a small write (an SSE event after its head)
      // until the browser's delayed ACK, 40 ms on Linux.
      const front = net.createServer({ noDelay: true }, (socket) => {
        this.track(socket);
        this.drainer.accepted(socket);
        deadlines.start(socket);
        // Per-address admission after the PROXY header (when on): the client's address, not the balancer's.
        this.admit(socket, () => {
          if (!connections.admit(socket, this.connections.of(socket).address, 'https')) return;
          handleTlsConnection(socket, { server, certificates, challenges, logger: frontLog });
        });
      });
      this.httpsFront = await this.listen(front, cfg.httpsListen, 'https');
    }
    if (cfg.httpListen) {
      const server = http.createServer({ maxHeaderSize: cfg.maxHeaderBytes });
      const httpsPort = cfg.httpsListen?.port;
      const challenges = new ChallengeStore(this.redis, keys);
      const acmeLog = this.log.child({ listener: 'http' });
      const onRequest = (req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean): void => {
        this.drainer.request(req, res);
        if (isAcmeHttp01(req)) {
          answerAcmeHttp01(req, res, challenges, acmeLog).catch((err: unknown) => {
            acmeLog.warn({ err: errorMessageOf(err) }, 'acme http-01: answer failed');
            res.destroy();
          });
        }
        else if (cfg.httpMode === 'serve') proxyRequest(req, res, 'http', ctx, expectContinue);
        else redirectToHttps(req, res, httpsPort ?? 443);
      };
      server.on('request', (req, res) => onRequest(req, res, false));
      server.on('checkContinue', (req, res) => onRequest(req, res, true));
      server.on('upgrade', (req, socket, early) => {
        this.drainer.upgraded(socket);
        if (cfg.httpMode === 'serve') proxyUpgrade(req, socket, early, 'http', ctx);
        else writeRawError(socket, 400, 'use https:// (wss://) for upgrades');
      });
      server.on('connection', (socket: Socket) => {
        if (!connections.admit(socket, this.connections.of(socket).address, 'http')) return;
        this.track(socket);
        this.drainer.connection(socket);
      });
      this.configure(server, 'http', ctx);
      // With PROXY protocol, a TCP front reads the header, then hands the socket to the HTTP server.
      const listener = cfg.proxyProtocol
        ? net.createServer({ noDelay: true }, (socket) => {
            this.track(socket);
            this.admit(socket, () => server.emit('connection', socket));
          })
        : server;
      this.httpListener = await this.listen(listener, cfg.httpListen, 'http');
    }
  }

  /** Hands a new connection to `next`, after its PROXY protocol header when HOPGATE_PROXY_PROTOCOL is on. */
  private admit(socket: Socket, next: (socket: Socket) => void): void {
    if (this.proxyProtocol) this.proxyProtocol.accept(socket, next);
    else next(socket);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** The limits and the client error answer of a public HTTP server. */
  private configure(server: PublicServer, name: string, ctx: ProxyContext): void {
    const limits: Http1ServerLimits = {
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: 0, // uploads of any length; a stalled body is caught by the body idle timeout
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      maxHeaderSize: this.config.maxHeaderBytes,
      // The head's size is bounded (maxHeaderSize); a count limit would drop fields past it unseen
      // (node's default keeps 2,000): a second Host or Content-Length there would go unnoticed.
      maxHeadersCount: 0,
      // admitRequest answers a missing Host itself, with a request id and a log line (RFC 9112 §3.2).
      requireHostHeader: false,
    };
    Object.assign(server, limits);
    const listenerLog = this.log.child({ listener: name });
    server.on('clientError', (err: Error & { code?: string }, socket: Socket) =>
      answerClientError(err, socket, ctx.nextRequestId(), listenerLog.child({ client_ip: this.connections.of(socket).address })),
    );
    // RFC 9110 §9.3.6: CONNECT asks for a tunnel to another host; HopGate is no forward proxy.
    server.on('connect', (req: http.IncomingMessage, socket: Socket) => refuseConnect(req, socket, ctx.nextRequestId(), listenerLog));
    // RFC 9110 §10.1.1: an expectation other than 100-continue cannot be met.
    server.on('checkExpectation', (req: PublicRequest, res: PublicResponse) => {
      const requestId = ctx.nextRequestId();
      listenerLog.info({ request_id: requestId, status: 417, expect: String(req.headers.expect ?? '').slice(0, 64) }, 'malformed request refused');
      sendError(res, 417, 'only the 100-continue expectation is supported', requestId, true);
      req.resume();
    });
  }

  private async listen<S extends NetServer>(server: S, addr: ListenAddress, name: string): Promise<S> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address() as AddressInfo;
    this.log.info({ listen: `${bound.address}:${bound.port}` }, `${name} listening`);
    return server;
  }

  /**
   * /readyz: the route table loaded, Redis and NATS connected, not draining. A lost Redis or
   * NATS makes the ingress not ready (a balancer sends new connections elsewhere); it keeps
   * serving what it can meanwhile.
   */
  readiness(): Readiness {
    if (this.drainer.isDraining) return notReady('draining');
    return firstNotReady(
      redisReadiness(this.redis),
      this.routes && this.routes.status.loads > 0 ? READY : notReady('route table not loaded'),
      natsReadiness(this.nc),
    );
  }

  /**
   * SIGTERM: stop accepting (both listeners closed), then drain the open connections
   * (ConnectionDrain: `Connection: close`, idle ones closed, HTTP/2 GOAWAY, requests in
   * flight finish) until none is left or `deadlineMs` passed. stop() follows.
   */
  async drain(deadlineMs: number): Promise<void> {
    const began = Date.now();
    // Stops accepting at once; the callback (all connections gone) is not awaited here. net's
    // close, also for the plain http.Server: its own would close idle keep-alive connections at
    // once and stop its header timeouts, where the drain closes them after DRAIN_IDLE_CLOSE_MS.
    for (const listener of [this.httpsFront, this.httpListener]) {
      if (listener?.listening) net.Server.prototype.close.call(listener);
    }
    this.log.info({ deadline_ms: deadlineMs }, 'draining: listeners closed');
    const result = await this.drainer.run(deadlineMs);
    this.log.info({ drained: result.drained, open_connections: result.openConnections, drain_ms: Date.now() - began }, result.drained ? 'drained: every connection closed' : 'drain deadline passed: the rest are cut');
  }

  async stop(): Promise<void> {
    const close = (s: NetServer | undefined): Promise<void> =>
      new Promise((r) => {
        if (!s) return r();
        s.close(() => r());
      });
    const closed = Promise.all([close(this.httpsFront), close(this.httpListener)]);
    for (const socket of this.sockets) socket.destroy();
    await closed;
    this.claimedSub?.unsubscribe();
    this.certUpdatedSub?.unsubscribe();
    this.certificates?.stop();
    await this.relay?.close().catch(() => undefined);
    await this.routes?.stop().catch(() => undefined);
    await this.nc?.drain().catch(() => undefined);
    this.redis?.disconnect();
  }
}

/** A CONNECT request gets 405 once the answers before it have left, then the connection closes. */
function refuseConnect(req: http.IncomingMessage, socket: Socket, requestId: string, log: Logger): void {
  socket.on('error', () => undefined);
  log.info({ request_id: requestId, status: 405, target: String(req.url ?? '').slice(0, 256) }, 'CONNECT refused');
  afterPendingResponses(socket, () => writeRawError(socket, 405, 'CONNECT is not supported: HopGate is no forward proxy', requestId));
}

/**
 * Closes an HTTP/2 connection (GOAWAY, RFC 9113 §6.8) that had no frame for
 * H2_SESSION_IDLE_TIMEOUT_MS and has no open stream; a quiet long-lived stream (SSE) keeps it.
 */
function closeWhenIdle(session: http2.ServerHttp2Session): void {
  let open = 0;
  session.on('stream', (stream: http2.ServerHttp2Stream) => {
    open += 1;
    stream.once('close', () => (open -= 1));
  });
  session.setTimeout(H2_SESSION_IDLE_TIMEOUT_MS, () => {
    if (open === 0 && !session.closed) session.close();
  });
}
