import { EventEmitter } from 'node:events';
import { Agent as UndiciAgent } from 'undici';
import type { Logger } from '@hopgate/log';
import { MAX_STREAMS_PER_AGENT_LIMIT, type AgentConfig, type ListenAddress } from '@hopgate/config';
import { HopError, ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import { connectDtls } from '@hopgate/dtls/client';
import { Connection, type TransportStream } from '@hopgate/transport';
import { MessageStreamReader, encodeMessage, encodePreface } from '@hopgate/wire';
import { Backoff } from './backoff.js';
import { HubPicker, type HubCandidate } from './hub-picker.js';
import { serveOriginRequest } from './origin-request.js';
import { originTimeoutsOf, type OriginTimeouts } from './origin-timeouts.js';
import { AgentMetrics, type Registry } from '@hopgate/metrics';

export const AGENT_VERSION = '0.1.0';
/** Time the hub has to answer `hello` after the DTLS handshake. */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
/** A session that lived this long resets the reconnect backoff. */
export const DEFAULT_STABLE_SESSION_MS = 10_000;
/** Keep-alive time of idle connections to local services. */
export const DEFAULT_ORIGIN_KEEPALIVE_MS = 30_000;
/**
 * undici's default wait for the local service's response headers, in ms: 0 = off. undici counts
 * it from the start of the request (refreshed only when the socket pushes back), so an upload
 * longer than it failed with 504 mid-body. serveOriginRequest sets `response_header_timeout_ms`
 * per request: through undici for bodiless requests, with its own clock from the end of the
 * body otherwise.
 */
export const ORIGIN_HEADERS_TIMEOUT_MS = 0;
/**
 * The first reconnect after an established session ended is not backed off: it goes to
 * another hub after a random delay in [0, this], which only spreads a fleet of agents that lost
 * the same hub over the remaining hubs' handshakes, in ms.
 */
export const REHOME_JITTER_MAX_MS = 250;

export type AgentState = 'idle' | 'connecting' | 'online' | 'waiting' | 'stopped';

/**
 * After go_away ERR_DRAINING, the old session is closed once the new one is online, it has no
 * request in flight, and this long has passed since the new session came online (time for
 * every ingress to hear the new session's `session.claimed` and stop sending to the old one), in ms.
 */
export const RETIRE_LINGER_MS = 1_000;
/** How often a retiring session is checked for requests still in flight, in ms. */
export const RETIRE_POLL_INTERVAL_MS = 50;

/** Codes of a hello_reject that mean "this agent is refused": retried on the refusal backoff. */
const REFUSAL_CODES: ReadonlySet<ErrorCode> = new Set([ErrorCode.AuthFailed, ErrorCode.BadVersion]);

/**
 * The agent: dials a hub over DTLS (one of `server`, chosen by a HubPicker), says hello,
 * serves request streams against local services, and reconnects whenever the session ends:
 * the first time after an established session at once, to another hub (the lost one is marked
 * failed), then with backoff and jitter.
 * A hub that refuses the agent (ERR_AUTH_FAILED, ERR_BAD_VERSION) is retried on a second,
 * slower backoff (`refused_retry_min_ms` .. `refused_retry_max_ms`), one log line per step.
 * Nothing the hub sends stops the agent except go_away ERR_SESSION_REPLACED on its current
 * session (another live process uses this instance id). go_away ERR_DRAINING is make-before-break:
 * the old session keeps serving while the agent opens a new one on another hub, then it is
 * closed once idle (RETIRE_LINGER_MS).
 * Events: 'online' ({ hub_id, epoch }), 'offline' (reason), 'rejected' (HopError),
 * 'replaced' (reason: another agent with the same client_id took the session; this one stopped).
 */
export class TunnelAgent extends EventEmitter {
  private state: AgentState = 'idle';
  /** Requests served and origin errors, once main registered them (ops_listen). */
  private requestMetrics: AgentMetrics | undefined;
  /** The current session's connection: new sessions replace it; its close schedules a reconnect. */
  private connection: Connection | undefined;
  /** Sessions told to drain: they serve what still arrives until the new session is up and they are idle. */
  private readonly retiring = new Map<Connection, Logger>();
  /** Requests in flight per connection (the control stream not counted). */
  private readonly inFlight = new WeakMap<Connection, number>();
  /** The hub that asked this agent to move: avoided by the next choice. */
  private avoidHub: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  /** Retry delays after refusals; reset by a session that reached hello_ok. */
  private readonly refusedBackoff: Backoff;
  /** Service name -> local address. A Map: a name from the wire never finds an inherited property. */
  private readonly services: ReadonlyMap<string, ListenAddress>;
  private readonly dispatcher: UndiciAgent;
  private readonly timeouts: OriginTimeouts;
  private readonly log: Logger;
  private readonly picker: HubPicker;
  /**
   * The immediate reconnect after a lost session was used and no session has been stable
   * since: the next loss waits on the backoff (a hub that accepts and then drops the agent
   * must not be hammered).
   */
  private rehomeUsed = false;

  constructor(
    private readonly config: AgentConfig,
    private readonly logger: Logger,
  ) {
    super();
    this.log = logger.child({ component: 'agent' });
    this.backoff = new Backoff(config.reconnectMinMs, config.reconnectMaxMs);
    this.refusedBackoff = new Backoff(config.refusedRetryMinMs, config.refusedRetryMaxMs);
    this.services = new Map(Object.entries(config.services));
    this.picker = new HubPicker(config.servers, { logger: this.log });
    this.timeouts = originTimeoutsOf(config);
    // undici treats 0 as "no limit", as the config keys document.
    this.dispatcher = new UndiciAgent({
      connect: { timeout: this.timeouts.connectMs },
      bodyTimeout: this.timeouts.bodyIdleMs,
      keepAliveTimeout: DEFAULT_ORIGIN_KEEPALIVE_MS,
      headersTimeout: ORIGIN_HEADERS_TIMEOUT_MS,
      // Redirects are passed to the browser, never followed here.
    });
  }

  get currentState(): AgentState {
    return this.state;
  }

  /** The agent's collectors on its ops listener (call before start()): requests served, origin errors, session state. */
  metrics(registry: Registry): void {
    this.requestMetrics = new AgentMetrics(registry, () => this.state === 'online');
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.attempt();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    if (this.connection) this.log.info({ transport: this.connection.stats() }, 'closing the session with the hub');
    this.connection?.close(0, 'agent stopping');
    for (const old of this.retiring.keys()) old.close(0, 'agent stopping');
    await this.dispatcher.close().catch(() => undefined);
  }

  /** A method, not a field read, so checks after an await are not narrowed away. */
  private stopped(): boolean {
    return this.state === 'stopped';
  }

  /** One connection attempt; whatever it throws is logged and retried, never left unhandled. */
  private attempt(): void {
    this.connectOnce().catch((err: unknown) => {
      this.log.error({ err }, 'connection attempt failed unexpectedly');
      // With a connection, its close handler schedules the next attempt.
      if (this.connection) this.connection.close(1, 'connection attempt failed');
      else this.scheduleReconnect(errorCodeOf(err));
    });
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped()) return;
    this.state = 'waiting';
    const delay = this.backoff.next();
    this.log.info({ delay_ms: delay, attempt: this.backoff.attempts, reason }, 'reconnecting after backoff');
    this.timer = setTimeout(() => this.attempt(), delay);
  }

  /**
   * After a refusal: the next try on the refusal backoff, and the one line this attempt logs
   * (at error the first time, then warn: the reason does not change until an operator acts).
   */
  private scheduleRetryAfterRefusal(refusal: HopError, log: Logger): void {
    if (this.stopped()) return;
    this.state = 'waiting';
    const delay = this.refusedBackoff.next();
    const attempt = this.refusedBackoff.attempts;
    const fields = { code: refusal.code, reason: refusal.message, delay_ms: delay, attempt };
    if (attempt === 1) log.error(fields, 'the hub refused this agent');
    else log.warn(fields, 'the hub refused this agent');
    this.timer = setTimeout(() => this.attempt(), delay);
  }

  /**
   * After an established session ended: the first time, reconnect at once (to another hub:
   * the lost one is marked failed in the picker); after that, on the backoff as before.
   */
  private reconnectAfterSession(reason: string, log: Logger): void {
    if (this.stopped()) return;
    if (this.rehomeUsed) {
      this.scheduleReconnect(reason);
      return;
    }
    this.rehomeUsed = true;
    this.state = 'waiting';
    const delay = Math.round(Math.random() * REHOME_JITTER_MAX_MS);
    log.info({ delay_ms: delay, reason }, 'reconnecting at once, to another hub if there is one');
    this.timer = setTimeout(() => this.attempt(), delay);
  }

  private async connectOnce(): Promise<void> {
    if (this.stopped()) return;
    this.state = 'connecting';
    const { serverName } = this.config;
    let hub: HubCandidate;
    try {
      hub = await this.picker.pick(this.avoidHub);
    } catch (err) {
      const code = errorCodeOf(err);
      this.log.warn({ code, err: errorMessageOf(err) }, 'cannot reach the hub');
      this.emit('offline', code);
      this.scheduleReconnect(code);
      return;
    }
    if (this.stopped()) return;
    const hubFields = hub.entry === hub.key ? { hub: hub.key } : { hub: hub.key, server: hub.entry };
    const log = this.logger.child({ component: 'agent', ...hubFields });
    let link;
    try {
      link = await connectDtls({
        host: hub.address,
        port: hub.port,
        serverName,
        ...(this.config.caPem ? { ca: this.config.caPem } : {}),
        logger: this.logger.child({ component: 'dtls' }),
      });
    } catch (err) {
      const code = errorCodeOf(err);
      if (code === ErrorCode.CertVerify) {
        log.error({ code, err: (err as Error).message }, 'refusing the hub: its certificate does not verify');
      } else {
        log.warn({ code, err: (err as Error).message }, 'cannot reach the hub');
      }
      this.picker.markFailed(hub.key);
      this.emit('offline', code);
      this.scheduleReconnect(code);
      return;
    }
    if (this.stopped()) {
      link.close();
      return;
    }
    const conn = new Connection(link, {
      role: 'client',
      idleTimeoutMs: this.config.idleTimeoutMs,
      // The hub caps streams per agent (HOPGATE_MAX_STREAMS_PER_AGENT, at most this limit):
      // accepting as many as any hub may allow keeps the hub's cap, and its clear 503, the one met.
      maxIncomingStreams: MAX_STREAMS_PER_AGENT_LIMIT,
      logger: this.logger.child({ component: 'transport' }),
    });
    this.connection = conn;
    this.inFlight.set(conn, 0);
    const connectedAt = Date.now();
    const proxyLogger = this.logger.child({ component: 'proxy' });
    const context = { services: this.services, dispatcher: this.dispatcher, timeouts: this.timeouts, logger: proxyLogger, metrics: this.requestMetrics };
    conn.on('stream', (stream: TransportStream) => {
      stream.on('error', () => undefined);
      this.inFlight.set(conn, (this.inFlight.get(conn) ?? 0) + 1);
      stream.once('close', () => this.inFlight.set(conn, (this.inFlight.get(conn) ?? 1) - 1));
      serveOriginRequest(stream, context).catch((err: unknown) => {
        // Each path in serveOriginRequest answers for itself; this is the containment net.
        proxyLogger.error({ err, stream_id: stream.id }, 'request stream failed unexpectedly: resetting it');
        stream.destroy();
      });
    });
    /** Set when the hub answered hello_reject with a refusal code: the close then retries on the refusal backoff. */
    let refusal: HopError | undefined;
    /** Set at hello_ok: the close of an established session reconnects at once (reconnectAfterSession). */
    let established = false;
    conn.once('close', (err?: HopError) => {
      if (this.retiring.delete(conn)) {
        log.info({ code: err?.code, transport: conn.stats() }, 'old session closed (moved to a new one)');
        return;
      }
      if (this.connection !== conn) return;
      this.connection = undefined;
      if (this.stopped()) return;
      if (refusal) {
        this.emit('offline', refusal.code);
        this.scheduleRetryAfterRefusal(refusal, log);
        return;
      }
      if (Date.now() - connectedAt > DEFAULT_STABLE_SESSION_MS) {
        this.backoff.reset();
        this.rehomeUsed = false;
      }
      // Whatever ended it, this hub is avoided for a while if another one is configured.
      this.picker.markFailed(hub.key);
      log.warn({ code: err?.code, reason: err?.message, transport: conn.stats() }, 'session with the hub ended');
      this.emit('offline', err?.code ?? ErrorCode.Closed);
      if (established) this.reconnectAfterSession(err?.code ?? ErrorCode.Closed, log);
      else this.scheduleReconnect(err?.code ?? ErrorCode.Closed);
    });
    try {
      await this.hello(conn, log, hub.key);
      established = true;
      this.picker.markHealthy(hub.key);
      this.refusedBackoff.reset();
      this.avoidHub = undefined;
      for (const [old, oldLog] of this.retiring) this.retireWhenIdle(old, oldLog);
    } catch (err) {
      const e = err instanceof HopError ? err : new HopError(ErrorCode.Internal, errorMessageOf(err));
      if (REFUSAL_CODES.has(e.code)) {
        refusal = e;
        this.emit('rejected', e);
      } else {
        log.warn({ code: e.code, reason: e.message }, 'handshake with the hub failed');
      }
      conn.close(1, e.message);
    }
  }

  /**
   * Closes `old` (a session whose hub is draining) once it has no request in flight and
   * RETIRE_LINGER_MS passed: requests in flight on it finish, and ingresses have heard of the
   * new session by then. The hub closes it anyway at its drain deadline.
   */
  private retireWhenIdle(old: Connection, log: Logger): void {
    const since = Date.now();
    const check = (): void => {
      if (old.closed || !this.retiring.has(old)) return;
      if (Date.now() - since >= RETIRE_LINGER_MS && (this.inFlight.get(old) ?? 0) === 0) {
        log.info({ waited_ms: Date.now() - since }, 'closing the old session: the new one is online and the old one is idle');
        old.close(0, 'moved to another hub');
        return;
      }
      setTimeout(check, RETIRE_POLL_INTERVAL_MS).unref();
    };
    check();
  }

  /** go_away ERR_DRAINING on the current session: keep it serving, and dial another hub now. */
  private moveOff(conn: Connection, hubAddress: string, log: Logger): void {
    if (this.connection !== conn || this.stopped()) return;
    this.connection = undefined;
    this.retiring.set(conn, log);
    this.avoidHub = hubAddress;
    if (this.timer) clearTimeout(this.timer);
    log.info({ streams_in_flight: this.inFlight.get(conn) ?? 0 }, 'hub is draining: opening a session on another hub before closing this one');
    this.emit('offline', ErrorCode.Draining);
    this.attempt();
  }

  private async hello(conn: Connection, log: Logger, hubAddress: string): Promise<void> {
    const control = conn.openStream();
    control.on('error', () => undefined);
    control.write(encodePreface());
    control.write(
      encodeMessage({
        type: 'hello',
        client_id: this.config.clientId,
        token: this.config.token,
        agent_version: AGENT_VERSION,
        services: [...this.services.keys()],
        instance_id: this.config.instanceId,
      }),
    );
    const reader = new MessageStreamReader(control);
    let helloTimer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      helloTimer = setTimeout(() => reject(new HopError(ErrorCode.Timeout, 'hub did not answer hello in time')), DEFAULT_HELLO_TIMEOUT_MS);
      conn.once('close', () => clearTimeout(helloTimer));
      control.once('close', () => clearTimeout(helloTimer));
    });
    try {
      await Promise.race([reader.readPreface(), timeout]);
      const reply = await Promise.race([reader.readMessage(), timeout]);
      if (reply.type === 'hello_reject') throw new HopError(reply.code, reply.reason);
      if (reply.type !== 'hello_ok') throw new HopError(ErrorCode.Protocol, `unexpected ${reply.type} from hub`);
      this.state = 'online';
      log.info({ hub_id: reply.hub_id, epoch: reply.epoch, instance_id: this.config.instanceId }, 'online: session established');
      this.emit('online', { hub_id: reply.hub_id, epoch: reply.epoch });
    } finally {
      clearTimeout(helloTimer);
    }
    // Later control messages (go_away) arrive on the same stream.
    this.readControl(conn, reader, log, hubAddress).catch((err: unknown) => {
      log.error({ err }, 'control stream reader failed unexpectedly: closing the session');
      conn.close(1, 'control stream reader failed');
    });
  }

  /**
   * Control messages after hello_ok. go_away ends the session (ERR_SESSION_REPLACED also stops
   * the agent); any other message type is ignored (logged once per session at warn); a
   * malformed message, or the hub ending the control stream, closes the session and the agent
   * reconnects on the normal backoff.
   */
  private async readControl(conn: Connection, reader: MessageStreamReader, log: Logger, hubAddress: string): Promise<void> {
    let ignored = 0;
    for (;;) {
      let msg;
      try {
        msg = await reader.readMessage();
      } catch (err) {
        if (conn.closed) return; // the control stream closed with the connection
        const code = errorCodeOf(err);
        log.warn({ code, reason: errorMessageOf(err) }, 'bad control stream from the hub: closing the session');
        conn.close(1, 'bad control stream');
        return;
      }
      if (msg.type !== 'go_away') {
        ignored += 1;
        const fields = { type: msg.type, ignored };
        if (ignored === 1) log.warn(fields, 'unexpected message on the control stream: ignored');
        else log.debug(fields, 'unexpected message on the control stream: ignored');
        continue;
      }
      if (msg.code === ErrorCode.Draining) {
        this.moveOff(conn, hubAddress, log);
        continue;
      }
      if (msg.code === ErrorCode.SessionReplaced && this.connection !== conn) {
        // An old session of this agent, fenced by its own newer one: not another process.
        log.info({ code: msg.code, reason: msg.reason }, 'old session replaced by this agent\'s new one: closing it');
        this.retiring.delete(conn);
        conn.close(0, 'replaced by this agent\'s new session');
        return;
      }
      if (msg.code === ErrorCode.SessionReplaced) {
        // The current session is only replaced by another process using the same client_id
        // and instance_id (a reconnect of this agent happens after it dropped its old session).
        // Reconnecting would take the session back and the two would flap: stop instead.
        log.error({ code: msg.code, reason: msg.reason, instance_id: this.config.instanceId }, 'another agent with this client_id took over the session: stopping');
        this.state = 'stopped';
        conn.close(0, 'replaced by another agent');
        this.emit('replaced', msg.reason);
        return;
      }
      log.warn({ code: msg.code, reason: msg.reason }, 'hub ended this session');
      conn.close(0, 'go_away received');
      return;
    }
  }
}
