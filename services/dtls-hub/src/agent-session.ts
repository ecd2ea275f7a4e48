import type { Logger } from '@hopgate/log';
import { HopError, ErrorCode } from '@hopgate/errors';
import type { Connection, TransportStream } from '@hopgate/transport';
import { encodeMessage } from '@hopgate/wire';

export interface AgentSessionInfo {
  clientId: string;
  epoch: number;
  remote: string;
  connectedAt: number;
}

/**
 * One authenticated agent session on this hub: the transport connection, its control
 * stream, and the ownership epoch it holds in Redis.
 * States: open -> closing -> closed (explicit; no way back).
 */
export class AgentSession {
  private state: 'open' | 'closing' | 'closed' = 'open';
  private readonly closeHandlers: Array<() => void> = [];

  constructor(
    readonly info: AgentSessionInfo,
    private readonly connection: Connection,
    private readonly control: TransportStream,
    readonly logger: Logger,
  ) {
    connection.once('close', () => this.onClosed());
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** A new request stream to the agent. Throws HopError if the session is gone or busy. */
  openStream(): TransportStream {
    if (this.state !== 'open') throw new HopError(ErrorCode.ClientOffline, `session of ${this.info.clientId} is closing`);
    return this.connection.openStream();
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
