import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from '@hopgate/log';
import type { IngressConfig, ListenAddress } from '@hopgate/config';
import { RedisKeys, NatsSubjects } from '@hopgate/keys';
import { RouteLoader } from '@hopgate/routes';
import { SessionStore, OwnerCache } from '@hopgate/sessions';
import { RelayClient, NATS_NO_ASYNC_TRACES } from '@hopgate/relay';
import { proxyRequest, type ProxyContext } from './proxy-handler.js';
import { redirectToHttps } from './redirect.js';
import { proxyUpgrade } from './upgrade-handler.js';
import { writeRawError } from './raw-response.js';

/** Headers must arrive within this time, in ms (slowloris guard). */
export const HEADERS_TIMEOUT_MS = 30_000;
/** Idle keep-alive connections are closed after this time, in ms. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * The https-ingress: TLS edge + plain HTTP (redirect or serve), route table in memory,
 * session owners cached, requests relayed over NATS to the owning hub.
 */
export class Ingress {
  private redis: Redis | undefined;
  private nc: NatsConnection | undefined;
  private routes: RouteLoader | undefined;
  private relay: RelayClient | undefined;
  private owners: OwnerCache | undefined;
  private claimedSub: Subscription | undefined;
  private httpsServer: https.Server | undefined;
  private httpServer: http.Server | undefined;

  constructor(
    private readonly config: IngressConfig,
    private readonly logger: Logger,
  ) {
    this.log = logger.child({ component: 'ingress' });
  }

  private readonly log: Logger;

  async start(): Promise<void> {
    const cfg = this.config;
    const keys = new RedisKeys(cfg.redisPrefix);
    const subjects = new NatsSubjects();
    this.redis = new Redis(cfg.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.redis.on('error', (err) => this.log.warn({ err: err.message }, 'redis connection error'));
    await this.redis.connect();
    this.routes = new RouteLoader({
      redisUrl: cfg.redisUrl,
      keys,
      reloadIntervalMs: cfg.routeReloadIntervalMs,
      logger: this.logger,
    });
    await this.routes.start();
    this.owners = new OwnerCache(new SessionStore(this.redis, keys), { ttlMs: cfg.ownerCacheTtlMs });
    this.nc = await connect({ servers: cfg.natsUrl, name: `https-ingress-${cfg.ingressId}`, maxReconnectAttempts: -1, noAsyncTraces: NATS_NO_ASYNC_TRACES });
    this.relay = new RelayClient({
      nc: this.nc,
      subjects,
      ingressId: cfg.ingressId,
      logger: this.logger,
    });
    await this.relay.start();
    this.claimedSub = this.nc.subscribe(subjects.sessionClaimed, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const claim = JSON.parse(Buffer.from(msg.data).toString('utf8')) as { client_id?: unknown };
          if (typeof claim.client_id === 'string') this.owners?.invalidate(claim.client_id);
        } catch {
          // Not ours to fix: ignore malformed broadcasts.
        }
      },
    });
    const ctx: ProxyContext = {
      routes: this.routes,
      owners: this.owners,
      relay: this.relay,
      responseTimeoutMs: cfg.responseTimeoutMs,
      nextRequestId: () => this.relay!.nextRequestId(),
      logger: this.logger.child({ component: 'proxy' }),
    };
    if (cfg.httpsListen) {
      const server = https.createServer({
        cert: fs.readFileSync(cfg.tlsCertFile!, 'utf8'),
        key: fs.readFileSync(cfg.tlsKeyFile!, 'utf8'),
      });
      server.on('request', (req, res) => proxyRequest(req, res, 'https', ctx));
      server.on('upgrade', (req, socket, early) => proxyUpgrade(req, socket, early, 'https', ctx));
      this.httpsServer = await this.listen(server, cfg.httpsListen, 'https');
    }
    if (cfg.httpListen) {
      const server = http.createServer();
      const httpsPort = cfg.httpsListen?.port;
      server.on('request', (req, res) => {
        if (cfg.httpMode === 'serve') proxyRequest(req, res, 'http', ctx);
        else redirectToHttps(req, res, httpsPort ?? 443);
      });
      server.on('upgrade', (req, socket, early) => {
        if (cfg.httpMode === 'serve') proxyUpgrade(req, socket, early, 'http', ctx);
        else writeRawError(socket, 400, 'hopgate: use https:// (wss://) for upgrades');
      });
      this.httpServer = await this.listen(server, cfg.httpListen, 'http');
    }
  }

  private async listen<S extends http.Server | https.Server>(server: S, addr: ListenAddress, name: string): Promise<S> {
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = 0; // uploads of any length; idle limits come from the relay
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.on('clientError', (err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
      this.log.debug({ err: err.message }, `${name}: malformed request`);
    });
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

  async stop(): Promise<void> {
    const close = (s: http.Server | undefined): Promise<void> =>
      new Promise((r) => {
        if (!s) return r();
        s.close(() => r());
        s.closeAllConnections();
      });
    await Promise.all([close(this.httpsServer), close(this.httpServer)]);
    this.claimedSub?.unsubscribe();
    await this.relay?.close().catch(() => undefined);
    await this.routes?.stop().catch(() => undefined);
    await this.nc?.drain().catch(() => undefined);
    this.redis?.disconnect();
  }
}
