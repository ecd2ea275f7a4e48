import { EventEmitter } from 'node:events';
import { Agent as UndiciAgent } from 'undici';
import type { Logger } from '@hopgate/log';
import { MAX_STREAMS_PER_AGENT_LIMIT, type AgentConfig } from '@hopgate/config';
import { HopError, ErrorCode, errorCodeOf } from '@hopgate/errors';
import { connectDtls } from '@hopgate/dtls';
import { Connection, type TransportStream } from '@hopgate/transport';
import { MessageStreamReader, encodeMessage, encodePreface } from '@hopgate/wire';
import { Backoff } from './backoff.js';
import { serveOriginRequest } from './origin-request.js';
import { originTimeoutsOf, type OriginTimeouts } from './origin-timeouts.js';

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

export type AgentState = 'idle' | 'connecting' | 'online' | 'waiting' | 'stopped';

/**
 * The agent: dials a hub over DTLS, says hello, serves request streams against local
 * services, and reconnects with backoff and jitter whenever the session ends.
 * Events: 'online' ({ hub_id, epoch }), 'offline' (reason), 'rejected' (HopError),
 * 'replaced' (reason: another agent with the same client_id took the session; this one stopped).
 */
export class TunnelAgent extends EventEmitter {
  private state: AgentState = 'idle';
  private connection: Connection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private readonly dispatcher: UndiciAgent;
  private readonly timeouts: OriginTimeouts;
  private readonly log: Logger;

  constructor(
    private readonly config: AgentConfig,
    private readonly logger: Logger,
  ) {
    super();
    this.log = logger.child({ component: 'agent' });
    this.backoff = new Backoff(config.reconnectMinMs, config.reconnectMaxMs);
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

  start(): void {
    if (this.state !== 'idle') return;
    void this.connectOnce();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    if (this.connection) this.log.info({ transport: this.connection.stats() }, 'closing the session with the hub');
    this.connection?.close(0, 'agent stopping');
    await this.dispatcher.close().catch(() => undefined);
  }

  /** A method, not a field read, so checks after an await are not narrowed away. */
  private stopped(): boolean {
    return this.state === 'stopped';
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped()) return;
    this.state = 'waiting';
    const delay = this.backoff.next();
    this.log.info({ delay_ms: delay, attempt: this.backoff.attempts, reason }, 'reconnecting after backoff');
    this.timer = setTimeout(() => void this.connectOnce(), delay);
  }

  private async connectOnce(): Promise<void> {
    if (this.stopped()) return;
    this.state = 'connecting';
    const { server, serverName } = this.config;
    const log = this.logger.child({ component: 'agent', hub: `${server.host}:${server.port}` });
    let link;
    try {
      link = await connectDtls({
        host: server.host,
        port: server.port,
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
    const connectedAt = Date.now();
    const proxyLogger = this.logger.child({ component: 'proxy' });
    conn.on('stream', (stream: TransportStream) => {
      stream.on('error', () => undefined);
      void serveOriginRequest(stream, {
        services: this.config.services,
        dispatcher: this.dispatcher,
        timeouts: this.timeouts,
        logger: proxyLogger,
      });
    });
    conn.once('close', (err?: HopError) => {
      this.connection = undefined;
      if (this.stopped()) return;
      if (Date.now() - connectedAt > DEFAULT_STABLE_SESSION_MS) this.backoff.reset();
      log.warn({ code: err?.code, reason: err?.message, transport: conn.stats() }, 'session with the hub ended');
      this.emit('offline', err?.code ?? ErrorCode.Closed);
      this.scheduleReconnect(err?.code ?? ErrorCode.Closed);
    });
    try {
      await this.hello(conn, log);
    } catch (err) {
      const e = err instanceof HopError ? err : new HopError(ErrorCode.Internal, String(err));
      if (e.code === ErrorCode.AuthFailed || e.code === ErrorCode.BadVersion) {
        log.error({ code: e.code, reason: e.message }, 'the hub refused this agent');
        this.emit('rejected', e);
      } else {
        log.warn({ code: e.code, reason: e.message }, 'handshake with the hub failed');
      }
      conn.close(1, e.message);
    }
  }

  private async hello(conn: Connection, log: Logger): Promise<void> {
    const control = conn.openStream();
    control.on('error', () => undefined);
    control.write(encodePreface());
    control.write(
      encodeMessage({
        type: 'hello',
        client_id: this.config.clientId,
        token: this.config.token,
        agent_version: AGENT_VERSION,
        services: Object.keys(this.config.services),
      }),
    );
    const reader = new MessageStreamReader(control);
    const timeout = new Promise<never>((_, reject) => {
      const t = setTimeout(() => reject(new HopError(ErrorCode.Timeout, 'hub did not answer hello in time')), DEFAULT_HELLO_TIMEOUT_MS);
      conn.once('close', () => clearTimeout(t));
      control.once('close', () => clearTimeout(t));
    });
    await Promise.race([reader.readPreface(), timeout]);
    const reply = await Promise.race([reader.readMessage(), timeout]);
    if (reply.type === 'hello_reject') throw new HopError(reply.code, reply.reason);
    if (reply.type !== 'hello_ok') throw new HopError(ErrorCode.Protocol, `unexpected ${reply.type} from hub`);
    this.state = 'online';
    log.info({ hub_id: reply.hub_id, epoch: reply.epoch }, 'online: session established');
    this.emit('online', { hub_id: reply.hub_id, epoch: reply.epoch });
    // Later control messages (go_away) arrive on the same stream.
    void (async () => {
      try {
        for (;;) {
          const msg = await reader.readMessage();
          if (msg.type === 'go_away') {
            if (msg.code === ErrorCode.SessionReplaced) {
              // A live session is only replaced by another agent using the same client_id (a
              // reconnect of this agent happens after it dropped its old session). Reconnecting
              // would take the session back and the two would flap: stop instead.
              log.error({ code: msg.code, reason: msg.reason }, 'another agent with this client_id took over the session: stopping');
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
      } catch {
        // The control stream closed with the connection.
      }
    })();
  }
}
