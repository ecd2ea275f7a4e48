import fs from 'node:fs';
import type { Redis } from 'ioredis';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '@hopgate/log';
import type { HubConfig } from '@hopgate/config';
import { formatHostPort } from '@hopgate/config';
import { HopError, ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import { RedisKeys, NatsSubjects } from '@hopgate/keys';
import { SessionStore, ClientStore, HubRegistry } from '@hopgate/sessions';
import { RelayServer, type RelayServerStream, NATS_NO_ASYNC_TRACES } from '@hopgate/relay';
import { connectRedis, connectNats } from '@hopgate/runtime';
import { DtlsHubServer, type DtlsServerLink } from '@hopgate/dtls';
import { Connection, type TransportStream } from '@hopgate/transport';
import { MessageStreamReader, encodeMessage, encodePreface } from '@hopgate/wire';
import { CertStore } from '@hopgate/certs';
import { AgentSession } from './agent-session.js';
import { HubCertificate, credentialsFingerprint, type HubCredentials } from './hub-certificate.js';
import { forwardRequest } from './request-forwarder.js';

/** Message published on `NatsSubjects.sessionClaimed`. */
interface SessionClaimed {
  client_id: string;
  epoch: number;
  hub_id: string;
}

/**
 * The dtls-hub: accepts agents over DTLS, authenticates them, owns their sessions in
 * Redis (epoch-fenced), and serves relay streams from any ingress down those sessions.
 */
export class Hub {
  private readonly sessions = new Map<string, AgentSession>();
  private redis: Redis | undefined;
  private nc: NatsConnection | undefined;
  private dtls: DtlsHubServer | undefined;
  private relay: RelayServer | undefined;
  private claimedSub: Subscription | undefined;
  private certificate: HubCertificate | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** The bound DTLS address, as registered in the hub registry. */
  private boundDtls = '';
  private sessionStore!: SessionStore;
  private clientStore!: ClientStore;
  private registry!: HubRegistry;
  private readonly subjects = new NatsSubjects();

  constructor(
    private readonly config: HubConfig,
    private readonly logger: Logger,
  ) {
    this.log = logger.child({ component: 'hub' });
  }

  private readonly log: Logger;

  get hubId(): string {
    return this.config.hubId;
  }

  dtlsAddress(): { address: string; port: number } {
    if (!this.dtls) throw new HopError(ErrorCode.Closed, 'hub not started');
    return this.dtls.address();
  }

  async start(): Promise<void> {
    const cfg = this.config;
    const keys = new RedisKeys(cfg.redisPrefix);
    this.redis = await connectRedis(cfg, { name: 'hopgate-hub', logger: this.logger, options: { maxRetriesPerRequest: 2 } });
    this.sessionStore = new SessionStore(this.redis, keys);
    this.clientStore = new ClientStore(this.redis, keys);
    this.registry = new HubRegistry(this.redis, keys);
    this.nc = await connectNats(cfg, { name: `dtls-hub-${cfg.hubId}`, service: 'hub', logger: this.logger, noAsyncTraces: NATS_NO_ASYNC_TRACES });
    this.relay = new RelayServer({
      nc: this.nc,
      subjects: this.subjects,
      hubId: cfg.hubId,
      logger: this.logger,
    });
    const forwardLogger = this.logger.child({ component: 'forward' });
    this.relay.on('open', (stream: RelayServerStream) => {
      void forwardRequest(stream, {
        hubId: cfg.hubId,
        findSession: (id) => this.sessions.get(id),
        logger: forwardLogger,
      });
    });
    await this.relay.start();
    this.claimedSub = this.nc.subscribe(this.subjects.sessionClaimed, {
      callback: (err, msg) => {
        if (err) return;
        this.onSessionClaimed(msg.data);
      },
    });
    let fileCredentials: HubCredentials | undefined;
    if (cfg.dtlsCertFile && cfg.dtlsKeyFile) {
      const certPem = fs.readFileSync(cfg.dtlsCertFile, 'utf8');
      const keyPem = fs.readFileSync(cfg.dtlsKeyFile, 'utf8');
      fileCredentials = { certPem, keyPem, source: 'file', serial: undefined, fingerprint: credentialsFingerprint(certPem, keyPem) };
    }
    let initial = fileCredentials;
    if (cfg.hubName !== undefined) {
      this.certificate = new HubCertificate({
        name: cfg.hubName,
        store: new CertStore(this.redis, keys),
        nc: this.nc,
        subjects: this.subjects,
        fileCredentials,
        rereadIntervalMs: cfg.certRereadIntervalMs,
        apply: (credentials) => this.dtls!.setCertificate(credentials.certPem, credentials.keyPem),
        logger: this.logger,
      });
      initial = await this.certificate.initial();
    }
    this.dtls = await DtlsHubServer.listen({
      host: cfg.dtlsListen.host,
      port: cfg.dtlsListen.port,
      certPem: initial?.certPem,
      keyPem: initial?.keyPem,
      logger: this.logger.child({ component: 'dtls' }),
    });
    this.certificate?.start();
    this.dtls.on('session', (link: DtlsServerLink) => this.onLink(link));
    const addr = this.dtls.address();
    this.boundDtls = formatHostPort({ host: addr.address, port: addr.port });
    await this.registry.register(cfg.hubId, { dtlsListen: this.boundDtls }, cfg.sessionTtlMs);
    this.refreshTimer = setInterval(() => void this.refreshAll(), Math.max(MIN_SESSION_REFRESH_INTERVAL_MS, Math.floor(cfg.sessionTtlMs / 3)));
    this.log.info({ dtls_listen: this.boundDtls }, 'dtls-hub listening');
  }

  async stop(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.certificate?.stop();
    const releases: Array<Promise<unknown>> = [];
    for (const session of this.sessions.values()) {
      session.goAway(ErrorCode.Closed, 'hub shutting down');
      releases.push(this.sessionStore.release(session.info.clientId, this.config.hubId, session.info.epoch).catch(() => undefined));
    }
    await Promise.all(releases);
    await this.registry?.unregister(this.config.hubId).catch(() => undefined);
    await this.relay?.close().catch(() => undefined);
    this.claimedSub?.unsubscribe();
    await this.dtls?.close().catch(() => undefined);
    await this.nc?.drain().catch(() => undefined);
    this.redis?.disconnect();
  }

  private onLink(link: DtlsServerLink): void {
    const log = this.logger.child({ component: 'session', remote: link.remote });
    const conn = new Connection(link, { role: 'server', idleTimeoutMs: this.config.agentIdleTimeoutMs, logger: this.logger.child({ component: 'transport', remote: link.remote }) });
    const authTimer = setTimeout(() => {
      log.warn('agent sent no hello in time: closing');
      conn.close(1, 'no hello in time');
    }, this.config.authTimeoutMs);
    conn.once('close', () => clearTimeout(authTimer));
    let sawControl = false;
    conn.on('stream', (stream: TransportStream) => {
      stream.on('error', () => undefined);
      if (sawControl) {
        // Agents open only the control stream; anything else is refused.
        stream.reset(1);
        return;
      }
      sawControl = true;
      void this.authenticate(conn, stream, link.remote, log).finally(() => clearTimeout(authTimer));
    });
  }

  private async authenticate(conn: Connection, control: TransportStream, remote: string, log: Logger): Promise<void> {
    const reader = new MessageStreamReader(control);
    const reject = (code: ErrorCode, reason: string): void => {
      log.warn({ code, reason }, 'agent refused');
      control.write(encodePreface());
      control.end(encodeMessage({ type: 'hello_reject', code, reason }));
      setTimeout(() => conn.close(1, reason), REJECT_GRACE_MS).unref();
    };
    let clientId: string;
    try {
      await reader.readPreface();
      const hello = await reader.readMessage();
      if (hello.type !== 'hello') return reject(ErrorCode.Protocol, `expected hello, got ${hello.type}`);
      clientId = hello.client_id;
      const verdict = await this.clientStore.verify(hello.client_id, hello.token);
      if (verdict === 'unknown_client') return reject(ErrorCode.AuthFailed, `unknown client id "${hello.client_id}"`);
      if (verdict !== 'ok') return reject(ErrorCode.AuthFailed, `wrong token for client "${hello.client_id}"`);
    } catch (err) {
      const code = errorCodeOf(err);
      if (code === ErrorCode.BadVersion) return reject(code, errorMessageOf(err));
      log.warn({ code, reason: errorMessageOf(err) }, 'bad handshake from agent: closing');
      conn.close(1, 'bad handshake');
      return;
    }
    const slog = log.child({ client_id: clientId });
    try {
      const epoch = await this.sessionStore.nextEpoch();
      const connectedAt = Date.now();
      const claimed = await this.sessionStore.claim(clientId, { hubId: this.config.hubId, epoch, remote, connectedAt }, this.config.sessionTtlMs);
      if (!claimed) return reject(ErrorCode.SessionReplaced, 'a newer session for this client exists');
      if (conn.closed) {
        await this.sessionStore.release(clientId, this.config.hubId, epoch);
        return;
      }
      const session = new AgentSession({ clientId, epoch, remote, connectedAt }, conn, control, slog.child({ epoch }), this.config.maxStreamsPerAgent);
      const older = this.sessions.get(clientId);
      this.sessions.set(clientId, session);
      if (older) older.goAway(ErrorCode.SessionReplaced, `replaced by a newer session (epoch ${epoch})`);
      session.onClose(() => {
        if (this.sessions.get(clientId) === session) this.sessions.delete(clientId);
        slog.info({ epoch, transport: session.transportStats() }, 'agent session closed');
        void this.sessionStore.release(clientId, this.config.hubId, epoch).catch(() => undefined);
      });
      const claim: SessionClaimed = { client_id: clientId, epoch, hub_id: this.config.hubId };
      this.nc?.publish(this.subjects.sessionClaimed, JSON.stringify(claim));
      control.write(encodePreface());
      control.write(encodeMessage({ type: 'hello_ok', hub_id: this.config.hubId, epoch }));
      slog.info({ epoch }, 'agent session established');
    } catch (err) {
      slog.error({ err: errorMessageOf(err) }, 'cannot record the session in redis');
      reject(ErrorCode.Internal, 'hub cannot record the session; try again');
    }
  }

  private onSessionClaimed(data: Uint8Array): void {
    let claim: SessionClaimed;
    try {
      claim = JSON.parse(Buffer.from(data).toString('utf8')) as SessionClaimed;
    } catch {
      return;
    }
    if (typeof claim.client_id !== 'string' || typeof claim.epoch !== 'number') return;
    const local = this.sessions.get(claim.client_id);
    if (local && local.info.epoch < claim.epoch) {
      local.goAway(ErrorCode.SessionReplaced, `replaced by a newer session on hub ${claim.hub_id}`);
    }
  }

  private async refreshAll(): Promise<void> {
    const ttl = this.config.sessionTtlMs;
    await this.registry.register(this.config.hubId, { dtlsListen: this.boundDtls }, ttl).catch(() => undefined);
    for (const session of [...this.sessions.values()]) {
      if (!session.isOpen) continue;
      const { clientId, epoch } = session.info;
      try {
        let still = await this.sessionStore.refresh(clientId, this.config.hubId, epoch, ttl);
        if (!still && !(await this.clientStore.exists(clientId))) {
          session.goAway(ErrorCode.AuthFailed, `client "${clientId}" was removed`);
          continue;
        }
        if (!still) {
          // The record is gone (expired during a Redis outage, or Redis restarted empty):
          // claim it again; the claim fails only if a newer epoch exists.
          still = await this.sessionStore.claim(clientId, { hubId: this.config.hubId, epoch, remote: session.info.remote, connectedAt: session.info.connectedAt }, ttl);
        }
        if (!still) session.goAway(ErrorCode.SessionReplaced, 'session record replaced by a newer epoch');
      } catch (err) {
        session.logger.warn({ err: errorMessageOf(err) }, 'cannot refresh session record');
      }
    }
  }

  /** For tests and metrics. */
  get sessionCount(): number {
    return this.sessions.size;
  }
}

/** Session records are refreshed every third of their TTL, but never more often than this, in ms. */
export const MIN_SESSION_REFRESH_INTERVAL_MS = 250;

/** Time between sending hello_reject and closing the connection, in ms. */
export const REJECT_GRACE_MS = 200;
