import fs from 'node:fs';
import type { Redis } from 'ioredis';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { containedCallback, lazyChild, type Logger } from '@hopgate/log';
import type { HubConfig } from '@hopgate/config';
import { formatHostPort, ID_PATTERN } from '@hopgate/config';
import { HopError, ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import { RedisKeys, NatsSubjects } from '@hopgate/keys';
import { SessionStore, InstanceStore, ClientStore, ClientWatcher, HubRegistry, type CredentialsCheck } from '@hopgate/sessions';
import { RelayServer, type RelayServerStream, NATS_NO_ASYNC_TRACES, NATS_PENDING_LIMIT_BYTES } from '@hopgate/relay';
import { connectRedis, connectNats, DATA_PATH_REDIS_OPTIONS, natsReadiness, redisReadiness } from '@hopgate/runtime';
import { DtlsHubServer, defaultRecordCrypto, type DtlsServerLink } from '@hopgate/dtls';
import { Connection, type TransportStream } from '@hopgate/transport';
import { MessageStreamReader, WIRE_VERSION, WireVersionError, encodeLegacyRejection, encodeMessage, encodePreface, encodeSessionClaimed, decodeSessionClaimed, upgradeAgentReason, type SessionClaimed } from '@hopgate/wire';
import { CertStore } from '@hopgate/certs';
import { AgentSession } from './agent-session.js';
import { SessionTable, LEGACY_INSTANCE_ID } from './session-table.js';
import { HubCertificate, credentialsFingerprint, type HubCredentials } from './hub-certificate.js';
import { forwardRequest } from './request-forwarder.js';
import { AuthThrottle } from './auth-throttle.js';
import { throttleAddressOf } from './throttle-address.js';
import { addBusGauges, addCertificateExpiry, addHubMetrics, addRelayMetrics, addTransportTotals, type Registry, type TransportTotals } from '@hopgate/metrics';

/** What a refused agent is told, whatever the cause (unknown id, wrong token, throttled): the hub's log says which. */
export const AUTH_FAILED_REASON = 'authentication failed';
/** A client id longer than this is cut in log lines (a valid one has at most 64 characters). */
const MAX_LOGGED_CLIENT_ID_CHARS = 80;
/** While draining, how often the hub checks whether its sessions have all ended, in ms. */
export const DRAIN_POLL_INTERVAL_MS = 50;

/** The hub's lifecycle: readiness is true only while `started`. */
type HubState = 'idle' | 'starting' | 'started' | 'draining' | 'stopped';

/**
 * The dtls-hub: accepts agents over DTLS, authenticates them, owns their sessions in
 * Redis (epoch-fenced), and serves relay streams from any ingress down those sessions.
 */
export class Hub {
  private readonly sessions = new SessionTable();
  /** Packet counters of the sessions that closed (metrics totals never go back). */
  private readonly closedTransport: TransportTotals = { packetsSent: 0, packetsRetransmitted: 0, packetsLost: 0 };
  private state: HubState = 'idle';
  private drained: Promise<void> | undefined;
  private redis: Redis | undefined;
  private nc: NatsConnection | undefined;
  private dtls: DtlsHubServer | undefined;
  private relay: RelayServer | undefined;
  private claimedSub: Subscription | undefined;
  private clientWatcher: ClientWatcher | undefined;
  /** Failed logins per source address (memory only, per hub). */
  private readonly authThrottle = new AuthThrottle();
  private certificate: HubCertificate | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** The hub registry write of a refresh period, while it is pending. */
  private registering: Promise<void> | undefined;
  /** The bound DTLS address, as registered in the hub registry. */
  private boundDtls = '';
  private sessionStore!: SessionStore;
  private instanceStore!: InstanceStore;
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

  /** The hub's collectors (runService calls it before start): sessions, transport, relay, Redis/NATS, certificate. */
  metrics(registry: Registry): void {
    addHubMetrics(registry, {
      sessions: () => this.sessions.values().map((session) => ({ clientId: session.info.clientId, transport: session.transportStats() })),
      closedTransportTotals: () => this.closedTransport,
    });
    addBusGauges(registry, {
      redisConnected: () => redisReadiness(this.redis).ready,
      natsConnected: () => natsReadiness(this.nc).ready,
    });
    addRelayMetrics(registry, () => this.relay);
    addCertificateExpiry(registry, () => {
      const expiry = this.certificate?.expiry();
      return expiry ? [expiry] : [];
    });
  }

  async start(): Promise<void> {
    this.state = 'starting';
    const cfg = this.config;
    const keys = new RedisKeys(cfg.redisPrefix);
    // Logins, claims and certificates fail fast while Redis is away; the refresh re-claims once it is back.
    this.redis = await connectRedis(cfg, { name: 'hopgate-hub', logger: this.logger, waitUntilReachable: true, options: DATA_PATH_REDIS_OPTIONS });
    this.sessionStore = new SessionStore(this.redis, keys);
    this.instanceStore = new InstanceStore(this.redis, keys);
    this.clientStore = new ClientStore(this.redis, keys);
    this.registry = new HubRegistry(this.redis, keys);
    this.nc = await connectNats(cfg, { name: `dtls-hub-${cfg.hubId}`, service: 'hub', logger: this.logger, noAsyncTraces: NATS_NO_ASYNC_TRACES, pendingLimitBytes: NATS_PENDING_LIMIT_BYTES, waitUntilReachable: true });
    this.relay = new RelayServer({
      nc: this.nc,
      subjects: this.subjects,
      hubId: cfg.hubId,
      logger: this.logger,
    });
    const forwardLogger = this.logger.child({ component: 'forward' });
    const forwardContext = { hubId: cfg.hubId, findSession: (id: string, instanceId?: string) => this.sessions.pick(id, instanceId), logger: forwardLogger };
    this.relay.on('open', (stream: RelayServerStream) => {
      forwardRequest(stream, forwardContext).catch((err: unknown) => {
        // Each path in forwardRequest answers for itself; this is the containment net.
        forwardLogger.error({ err, request_id: stream.requestId }, 'request failed unexpectedly: resetting it');
        if (!stream.destroyed) stream.fail(ErrorCode.Internal, 'hub failed to forward the request');
      });
    });
    await this.relay.start();
    this.claimedSub = this.nc.subscribe(this.subjects.sessionClaimed, {
      callback: containedCallback(this.log, 'session.claimed handling', (err, msg) => {
        if (err) return;
        this.onSessionClaimed(msg.data).catch((e: unknown) => this.log.error({ err: e }, 'session.claimed handling failed unexpectedly'));
      }),
    });
    this.clientWatcher = new ClientWatcher(this.redis, { keys, logger: this.logger });
    this.clientWatcher.on('change', (clientId) => {
      for (const session of this.sessions.values()) {
        if (session.info.clientId !== clientId) continue;
        this.checkCredentials(session).catch((err: unknown) => session.logger.warn({ err: errorMessageOf(err) }, 'cannot check the client key'));
      }
    });
    this.clientWatcher.on('resync', () => {
      for (const session of this.sessions.values()) {
        this.checkCredentials(session).catch((err: unknown) => session.logger.warn({ err: errorMessageOf(err) }, 'cannot check the client key'));
      }
    });
    await this.clientWatcher.ensureSubscribed();
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
      ...cfg.dtlsLimits,
      ...(cfg.dtlsCookieSecrets ? { cookieSecret: cfg.dtlsCookieSecrets } : {}),
      logger: this.logger.child({ component: 'dtls' }),
    });
    this.certificate?.start();
    this.dtls.on('session', (link: DtlsServerLink) => this.onLink(link));
    const addr = this.dtls.address();
    this.boundDtls = formatHostPort({ host: addr.address, port: addr.port });
    await this.registry.register(cfg.hubId, { dtlsListen: this.boundDtls }, cfg.sessionTtlMs);
    // Back from an outage or on a new primary (Sentinel): re-assert every session record at once, not a period later.
    this.redis.on('ready', () => {
      this.refreshAll().catch((err: unknown) => this.log.error({ err }, 'session refresh failed unexpectedly'));
    });
    this.refreshTimer = setInterval(() => {
      this.refreshAll().catch((err: unknown) => this.log.error({ err }, 'session refresh failed unexpectedly'));
    }, Math.max(MIN_SESSION_REFRESH_INTERVAL_MS, Math.floor(cfg.sessionTtlMs / 3)));
    if (this.state === 'starting') this.state = 'started';
    const crypto = defaultRecordCrypto();
    this.log.info({ dtls_listen: this.boundDtls, record_crypto: crypto.backend, record_crypto_reason: crypto.reason }, 'dtls-hub listening');
  }

  /**
   * For the ops endpoint /readyz: false until started, from the first moment of a drain, and
   * while Redis or NATS is disconnected.
   */
  readiness(): { ready: boolean; reason?: string } {
    if (this.state === 'draining' || this.state === 'stopped') return { ready: false, reason: 'draining' };
    if (this.state !== 'started') return { ready: false, reason: 'starting' };
    if (this.redis?.status !== 'ready') return { ready: false, reason: 'redis disconnected' };
    if (!this.nc || this.nc.isClosed() || this.relay?.connected !== true) return { ready: false, reason: 'nats disconnected' };
    return { ready: true };
  }

  /**
   * Hub drain (SIGTERM): no new sessions (hello_reject ERR_DRAINING); every agent is told
   * go_away ERR_DRAINING and opens its new session on another hub before it closes this one
   * (make-before-break); meanwhile this hub keeps serving the streams that still arrive for
   * its sessions. Resolves once every session ended or `deadlineMs` passed (then the rest are
   * closed); records are released. Idempotent: a second call returns the same promise.
   */
  drain(deadlineMs: number): Promise<void> {
    this.drained ??= this.runDrain(deadlineMs);
    return this.drained;
  }

  private async runDrain(deadlineMs: number): Promise<void> {
    this.state = 'draining';
    const until = Date.now() + Math.max(0, deadlineMs);
    const started = Date.now();
    this.log.info({ sessions: this.sessions.size, deadline_ms: deadlineMs }, 'draining: asking agents to move to another hub');
    for (const session of this.sessions.values()) session.drain('hub draining');
    while (this.sessions.size > 0 && Date.now() < until) {
      await new Promise<void>((resolve) => setTimeout(resolve, DRAIN_POLL_INTERVAL_MS));
    }
    const left = this.sessions.values();
    await Promise.all(left.map((session) => this.endSession(session, ErrorCode.Draining, 'hub drain deadline reached')));
    this.log.info({ duration_ms: Date.now() - started, sessions_left: left.length }, 'drained');
  }

  /** go_away, then release the session's records (fenced: a newer session of the instance is untouched). */
  private async endSession(session: AgentSession, code: ErrorCode, reason: string): Promise<void> {
    session.goAway(code, reason);
    const { clientId, instanceId, epoch } = session.info;
    await this.instanceStore.release(clientId, instanceId, this.config.hubId, epoch).catch((err: unknown) => {
      session.logger.warn({ err: errorMessageOf(err) }, 'cannot release the session record');
    });
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.certificate?.stop();
    if (this.instanceStore) await Promise.all(this.sessions.values().map((session) => this.endSession(session, ErrorCode.Closed, 'hub shutting down')));
    await this.registry?.unregister(this.config.hubId).catch(() => undefined);
    await this.relay?.close().catch(() => undefined);
    this.claimedSub?.unsubscribe();
    this.clientWatcher?.stop();
    await this.dtls?.close().catch(() => undefined);
    await this.nc?.drain().catch(() => undefined);
    this.redis?.disconnect();
  }

  private onLink(link: DtlsServerLink): void {
    // Loggers per session are heap per idle session: the ones that log only on failures are made
    // on their first record (lazyChild), and none is a child of another per-session one (a pino
    // child of a child makes its parent a prototype, with hidden classes of its own).
    const log = lazyChild(this.logger, { component: 'session', remote: link.remote });
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
      this.authenticate(conn, stream, link, log)
        .catch((err: unknown) => {
          log.error({ err }, 'agent login failed unexpectedly: closing');
          conn.close(1, 'login failed');
        })
        .finally(() => clearTimeout(authTimer));
    });
  }

  private async authenticate(conn: Connection, control: TransportStream, link: DtlsServerLink, log: Logger): Promise<void> {
    const remote = link.remote;
    const reader = new MessageStreamReader(control);
    const reject = (code: ErrorCode, reason: string): void => {
      control.write(encodePreface());
      control.end(encodeMessage({ type: 'hello_reject', code, reason }));
      setTimeout(() => conn.close(1, reason), REJECT_GRACE_MS).unref();
    };
    const refuse = (code: ErrorCode, reason: string): void => {
      log.warn({ code, reason }, 'agent refused');
      reject(code, reason);
    };
    let clientId: string;
    let instanceId: string;
    let tokenSha256: string;
    const address = throttleAddressOf(remote);
    try {
      await reader.readPreface();
      const hello = await reader.readMessage();
      if (hello.type !== 'hello') return refuse(ErrorCode.Protocol, `expected hello, got ${hello.type}`);
      // A draining hub takes no new session: the agent goes to another hub.
      if (this.state !== 'started') return reject(ErrorCode.Draining, 'hub is draining; connect to another hub');
      clientId = hello.client_id;
      instanceId = hello.instance_id ?? LEGACY_INSTANCE_ID;
      if (hello.instance_id !== undefined && !ID_PATTERN.test(hello.instance_id)) return refuse(ErrorCode.Protocol, `instance_id must match ${ID_PATTERN}`);
      const admission = this.authThrottle.admit(address);
      if (!admission.admitted) {
        // Refused without asking Redis; one line per address per AUTH_THROTTLE_LOG_INTERVAL_MS.
        if (admission.log) log.warn({ address, refused: admission.log.refused, code: ErrorCode.AuthFailed }, 'agent logins from this address throttled: refused without checking');
        return reject(ErrorCode.AuthFailed, AUTH_FAILED_REASON);
      }
      // The agent hears one reason for every failure, so replies do not tell which ids exist (as
      // OAuth's invalid_client covers an unknown client and a failed authentication alike, RFC 6749 §5.2);
      // the hub's log says which.
      const failed = (reason: 'malformed_client_id' | 'unknown_client' | 'bad_token'): void => {
        log.warn({ client_id: clientId.slice(0, MAX_LOGGED_CLIENT_ID_CHARS), address, reason, code: ErrorCode.AuthFailed }, 'agent authentication failed');
        reject(ErrorCode.AuthFailed, AUTH_FAILED_REASON);
      };
      if (!ID_PATTERN.test(clientId)) return failed('malformed_client_id');
      let check: CredentialsCheck;
      try {
        check = await this.clientStore.check(clientId, hello.token);
      } catch (err) {
        this.authThrottle.refund(address);
        log.error({ err: errorMessageOf(err), client_id: clientId }, 'cannot check agent credentials in redis');
        return reject(ErrorCode.Internal, 'hub cannot check credentials; try again');
      }
      if (check.result !== 'ok') return failed(check.result);
      this.authThrottle.refund(address);
      tokenSha256 = check.tokenSha256;
    } catch (err) {
      const code = errorCodeOf(err);
      if (err instanceof WireVersionError && err.peerVersion < WIRE_VERSION) {
        // An older agent is told in its own encoding, so it logs the reason rather than a decoding error.
        const reason = upgradeAgentReason(err.peerVersion);
        log.warn({ code, reason, agent_wire_version: err.peerVersion }, 'agent refused');
        control.end(encodeLegacyRejection(reason));
        setTimeout(() => conn.close(1, reason), REJECT_GRACE_MS).unref();
        return;
      }
      if (err instanceof WireVersionError) return refuse(code, `this hub speaks wire version ${WIRE_VERSION}, the agent ${err.peerVersion}: upgrade the hub`);
      if (code === ErrorCode.BadVersion) return refuse(code, errorMessageOf(err));
      log.warn({ code, reason: errorMessageOf(err) }, 'bad handshake from agent: closing');
      conn.close(1, 'bad handshake');
      return;
    }
    const slog = this.logger.child({ component: 'session', remote, client_id: clientId, instance_id: instanceId });
    try {
      const epoch = await this.sessionStore.nextEpoch();
      const connectedAt = Date.now();
      const claimed = await this.instanceStore.claim(clientId, instanceId, { hubId: this.config.hubId, epoch, remote, connectedAt }, this.config.sessionTtlMs);
      if (!claimed) return refuse(ErrorCode.SessionReplaced, 'a newer session for this agent instance exists');
      if (conn.closed || this.state !== 'started') {
        await this.instanceStore.release(clientId, instanceId, this.config.hubId, epoch);
        if (!conn.closed) reject(ErrorCode.Draining, 'hub is draining; connect to another hub');
        return;
      }
      const session = new AgentSession({ clientId, instanceId, epoch, remote, connectedAt, tokenSha256 }, conn, control, lazyChild(slog, { epoch }), this.config.maxStreamsPerAgent);
      const older = this.sessions.set(session);
      if (older) older.goAway(ErrorCode.SessionReplaced, `replaced by a newer session of this instance (epoch ${epoch})`);
      session.onClose(() => {
        this.sessions.delete(session);
        const transport = session.transportStats();
        addTransportTotals(this.closedTransport, transport);
        slog.info({ epoch, transport }, 'agent session closed');
        void this.instanceStore.release(clientId, instanceId, this.config.hubId, epoch).catch((err: unknown) => slog.warn({ err: errorMessageOf(err) }, 'cannot release the session record'));
      });
      const claim: SessionClaimed = { client_id: clientId, epoch, hub_id: this.config.hubId, ...(instanceId !== LEGACY_INSTANCE_ID ? { instance_id: instanceId } : {}) };
      this.nc?.publish(this.subjects.sessionClaimed, encodeSessionClaimed(claim));
      control.write(encodePreface());
      control.write(encodeMessage({ type: 'hello_ok', hub_id: this.config.hubId, epoch }));
      link.markAuthenticated(); // leaves the DTLS server's limits on unauthenticated sessions
      slog.info({ epoch }, 'agent session established');
      // A token replaced between the check above and this session's registration raised no event for it.
      await this.checkCredentials(session).catch((err: unknown) => slog.warn({ err: errorMessageOf(err) }, 'cannot check the client key'));
    } catch (err) {
      slog.error({ err: errorMessageOf(err) }, 'cannot record the session in redis');
      refuse(ErrorCode.Internal, 'hub cannot record the session; try again');
    }
  }

  /**
   * Ends `session` when its client's `token_sha256` in Redis is no longer the one it logged in
   * with (`client add --replace`, a hand-made HSET) or is gone (`client rm`): go_away
   * ERR_AUTH_FAILED, so the agent reconnects with what it has and is refused.
   */
  private async checkCredentials(session: AgentSession): Promise<void> {
    if (!session.isOpen) return;
    const current = await this.clientStore.tokenHash(session.info.clientId);
    if (current === session.info.tokenSha256 || !session.isOpen) return;
    const reason = current === undefined ? 'client removed' : 'token replaced';
    session.logger.warn({ reason }, 'client credentials changed: ending the session');
    session.goAway(ErrorCode.AuthFailed, reason);
  }

  /**
   * `hopgate.session.claimed` is a hint: a local session of that client with a lower epoch is
   * ended only when Redis confirms a newer epoch. A forged, stale or malformed message is
   * logged and ignored (the periodic refresh still catches a real takeover whose message was lost).
   */
  private async onSessionClaimed(data: Uint8Array): Promise<void> {
    let claim: SessionClaimed;
    try {
      claim = decodeSessionClaimed(data);
    } catch (err) {
      this.log.warn({ err: errorMessageOf(err), bytes: data.length }, 'malformed session.claimed message: ignored');
      return;
    }
    const instanceId = claim.instance_id ?? LEGACY_INSTANCE_ID;
    const local = this.sessions.get(claim.client_id, instanceId);
    if (!local || !local.isOpen || local.info.epoch >= claim.epoch) return;
    const record = await this.instanceStore.getInstance(claim.client_id, instanceId).catch((err: unknown) => {
      local.logger.warn({ err: errorMessageOf(err), claimed_epoch: claim.epoch, claimed_by: claim.hub_id }, 'cannot confirm session.claimed in redis: ignored');
      return null;
    });
    if (record === null || this.sessions.get(claim.client_id, instanceId) !== local || !local.isOpen) return;
    if (record !== undefined && record.epoch > local.info.epoch) {
      // A draining session was replaced by the agent's own new session (make-before-break):
      // it keeps serving what still arrives until the agent closes it.
      if (local.draining) return;
      local.goAway(ErrorCode.SessionReplaced, `replaced by a newer session on hub ${record.hubId} (epoch ${record.epoch})`);
      return;
    }
    local.logger.warn(
      { claimed_epoch: claim.epoch, claimed_by: claim.hub_id, redis_epoch: record?.epoch, redis_hub: record?.hubId },
      'session.claimed not confirmed by redis: ignored',
    );
  }

  /**
   * Every period (and when the Redis connection is ready again): the session records first, then
   * the hub's registry record and the keyspace subscription. Neither of those is awaited before
   * the sessions, and a registration still pending from an earlier period is not repeated: a
   * command that hangs across a failover must not let the session records expire.
   */
  private async refreshAll(): Promise<void> {
    const ttl = this.config.sessionTtlMs;
    await this.refreshSessions(ttl);
    if (this.registering === undefined) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.log.warn({ timeout_ms: REGISTRY_WRITE_TIMEOUT_MS }, 'hub registry write did not settle: trying again next period');
          resolve();
        }, REGISTRY_WRITE_TIMEOUT_MS);
      });
      const write = this.registry
        .register(this.config.hubId, { dtlsListen: this.boundDtls }, ttl)
        .catch((err: unknown) => this.log.debug({ err: errorMessageOf(err) }, 'cannot refresh the hub registry record'));
      this.registering = Promise.race([write, bound]).finally(() => {
        clearTimeout(timer);
        this.registering = undefined;
      });
    }
    // Notifications may have been turned on since the last period (never by this hub: no CONFIG SET).
    this.clientWatcher?.ensureSubscribed().catch((err: unknown) => this.log.warn({ err: errorMessageOf(err) }, 'cannot check keyspace notifications'));
  }

  private async refreshSessions(ttl: number): Promise<void> {
    for (const session of [...this.sessions.values()]) {
      if (!session.isOpen) continue;
      const { clientId, instanceId, epoch } = session.info;
      try {
        // The fallback when keyspace notifications are off or an event was lost.
        await this.checkCredentials(session);
        if (!session.isOpen) continue;
        let still = await this.instanceStore.refresh(clientId, instanceId, this.config.hubId, epoch, ttl);
        if (!still) {
          // The record is gone (expired during a Redis outage, Redis restarted empty, or an
          // operator's DEL): claim it again; the claim fails only if a newer epoch exists.
          still = await this.instanceStore.claim(clientId, instanceId, { hubId: this.config.hubId, epoch, remote: session.info.remote, connectedAt: session.info.connectedAt }, ttl);
        }
        // A draining session replaced by its agent's new one serves on until the agent closes it.
        if (!still && !session.draining) session.goAway(ErrorCode.SessionReplaced, 'session record replaced by a newer epoch');
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

/** A hub registry write (MULTI) still pending after this long no longer holds back the next period's, in ms. */
export const REGISTRY_WRITE_TIMEOUT_MS = 5_000;

/** Time between sending hello_reject and closing the connection, in ms. */
export const REJECT_GRACE_MS = 200;
