import type { Logger } from '@hopgate/log';
import { HopError, ErrorCode } from '@hopgate/errors';
import type { Connection, TransportStream } from '@hopgate/transport';
import { encodeMessage } from '@hopgate/wire';
import { LogThrottle } from './log-throttle.js';

/** While requests to one agent are refused for its stream cap, one warn line per this many ms (the others are counted in it). */
export const BUSY_REFUSAL_LOG_INTERVAL_MS = 10_000;

export interface AgentSessionInfo {
  clientId: string;
  /** The agent instance (replica) this session belongs to: `hello.instance_id`, or LEGACY_INSTANCE_ID. */
  instanceId: string;
  epoch: number;
  remote: string;
  connectedAt: number;
  /**
   * The client's `token_sha256` the agent logged in with (lower-case hex; memory only): a
   * different or missing one in Redis later means the token was replaced or the client removed.
   */
  tokenSha256: string;
}

/**
 * One authenticated agent session on this hub: the transport connection, its control
 * stream, and the ownership epoch it holds in Redis.
 * States: open -> closing -> closed (explicit; no way back). An open session may also be
 * draining (told go_away ERR_DRAINING): it still serves streams, and the agent closes it once
 * its new session on another hub is up (make-before-break).
 *
 * At most `maxStreams` request streams (requests and WebSockets) are in flight at once: a
 * stream holds its slot from openStream() until it closes (both directions done, or reset),
 * and one more is refused with ERR_BUSY, never queued.
 */
export class AgentSession {
  private state: 'open' | 'closing' | 'closed' = 'open';
  private readonly closeHandlers: Array<() => void> = [];
  private inFlight = 0;
  private drainingSince: number | undefined;
  /** One "too many streams" line per BUSY_REFUSAL_LOG_INTERVAL_MS: a flood of refusals must not flood the log. */
  readonly busyRefusalLog = new LogThrottle(BUSY_REFUSAL_LOG_INTERVAL_MS);

  constructor(
    readonly info: AgentSessionInfo,
    private readonly connection: Connection,
    private readonly control: TransportStream,
    readonly logger: Logger,
    readonly maxStreams: number,
  ) {
    connection.once('close', () => this.onClosed());
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * A new request stream to the agent. Throws HopError ERR_CLIENT_OFFLINE if the session is
   * going, ERR_BUSY if `maxStreams` streams are in flight (or the agent's transport allows no more).
   */
  openStream(): TransportStream {
    if (this.state !== 'open') throw new HopError(ErrorCode.ClientOffline, `session of ${this.info.clientId} is closing`);
    if (this.inFlight >= this.maxStreams) {
      throw new HopError(ErrorCode.Busy, `client "${this.info.clientId}" has ${this.inFlight} requests in flight (limit ${this.maxStreams})`);
    }
    const stream = this.connection.openStream();
    this.inFlight++;
    stream.once('close', () => {
      this.inFlight--;
    });
    return stream;
  }

  /** Request streams opened and not yet closed. */
  get streamsInFlight(): number {
    return this.inFlight;
  }

  /** Transport counters (packets, losses, RTT, window) for logs. */
  transportStats(): ReturnType<Connection['stats']> {
    return this.connection.stats();
  }

  get activeStreams(): number {
    return this.connection.streamCount;
  }

  onClose(handler: () => void): void {
    if (this.state === 'closed') handler();
    else this.closeHandlers.push(handler);
  }

  /** True once `drain` told the agent to move: the session still serves, but is the last choice. */
  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /**
   * Tells the agent to move to another hub (go_away ERR_DRAINING) and keeps serving: streams
   * in flight finish and new ones are still accepted until the agent (or the hub's drain
   * deadline) closes the connection.
   */
  drain(reason: string): void {
    if (this.state !== 'open' || this.drainingSince !== undefined) return;
    this.drainingSince = Date.now();
    this.logger.info({ code: ErrorCode.Draining, reason, streams_in_flight: this.inFlight }, 'asking the agent to move (draining)');
    try {
      this.control.write(encodeMessage({ type: 'go_away', code: ErrorCode.Draining, reason }));
    } catch {
      // The control stream is gone: the connection's close ends the session anyway.
    }
  }

  /** Ends the session: tells the agent why (go_away), then closes the connection. */
  goAway(code: ErrorCode, reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.logger.info({ code, reason }, 'ending agent session');
    try {
      this.control.write(encodeMessage({ type: 'go_away', code, reason }));
    } catch {
      // The control stream may already be gone; closing the connection says enough.
    }
    // Give the go_away a moment to leave before CONNECTION_CLOSE (best effort).
    setTimeout(() => this.connection.close(0, reason), GO_AWAY_GRACE_MS).unref();
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.connection.close(0, reason);
  }

  private onClosed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const h of this.closeHandlers.splice(0)) h();
  }
}

/** Time between sending go_away and closing the connection, in ms. */
export const GO_AWAY_GRACE_MS = 50;
