import type { Socket } from 'node:net';
import type { Logger } from '@hopgate/log';

/** While an address's connections are refused, one warn line for it per this many ms. */
export const CONNECTION_REFUSAL_LOG_INTERVAL_MS = 60_000;
/**
 * Addresses whose last refusal line is remembered; above this the oldest are forgotten (their
 * next refusal is logged at once). Bounds the memory an attacker with many addresses can take.
 */
export const MAX_REFUSAL_LOG_ADDRESSES = 10_000;

export interface ConnectionLimitOptions {
  /** Open TCP connections one client address may hold (HOPGATE_MAX_CONNECTIONS_PER_IP); 0 = no limit. */
  maxPerAddress: number;
  logger: Logger;
  /** Clock in ms (tests); default Date.now. */
  now?: () => number;
}

interface RefusalLog {
  loggedAt: number;
  /** Refusals since the last line (that one included). */
  refused: number;
}

/**
 * Concurrent TCP connections per client address, over every listener it is given. A connection
 * over the cap is destroyed at once (on the HTTPS port before any TLS byte), counted, and logged
 * at warn at most once per address per CONNECTION_REFUSAL_LOG_INTERVAL_MS. An address's entry
 * is removed when its last connection closes, so the table holds only addresses with open
 * connections.
 */
export class ConnectionLimit {
  private readonly open = new Map<string, number>();
  private readonly refusalLogs = new Map<string, RefusalLog>();
  private refusedTotal = 0;
  private readonly now: () => number;

  constructor(private readonly options: ConnectionLimitOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Connections refused since start. */
  get refusedCount(): number {
    return this.refusedTotal;
  }

  /** Addresses with open connections (the size of the table). */
  get addressCount(): number {
    return this.open.size;
  }

  /** Open connections counted for `address`. */
  connectionsOf(address: string): number {
    return this.open.get(address) ?? 0;
  }

  /**
   * Counts a new connection from client `address` until it closes; false (and the socket
   * destroyed) when the address is at the cap. `listener` names the port in the log line.
   */
  admit(socket: Socket, address: string | undefined, listener: string): boolean {
    const max = this.options.maxPerAddress;
    if (max === 0) return true;
    if (address === undefined || address === '') {
      // Gone before it was seen: nothing to count.
      socket.destroy();
      return false;
    }
    const count = this.open.get(address) ?? 0;
    if (count >= max) {
      socket.destroy();
      this.refused(address, listener);
      return false;
    }
    this.open.set(address, count + 1);
    socket.once('close', () => this.release(address));
    return true;
  }

  private release(address: string): void {
    const count = (this.open.get(address) ?? 0) - 1;
    if (count > 0) this.open.set(address, count);
    else this.open.delete(address);
  }

  private refused(address: string, listener: string): void {
    this.refusedTotal += 1;
    const now = this.now();
    const last = this.refusalLogs.get(address);
    if (last !== undefined && now - last.loggedAt < CONNECTION_REFUSAL_LOG_INTERVAL_MS) {
      last.refused += 1;
      return;
    }
    const refused = (last?.refused ?? 0) + 1;
    // Re-inserted, so that the map's order is the order of the last lines: the oldest go first.
    this.refusalLogs.delete(address);
    if (this.refusalLogs.size >= MAX_REFUSAL_LOG_ADDRESSES) {
      const oldest = this.refusalLogs.keys().next();
      if (oldest.done !== true) this.refusalLogs.delete(oldest.value);
    }
    this.refusalLogs.set(address, { loggedAt: now, refused: 0 });
    this.options.logger.warn(
      { remote: address, listener, max_connections_per_ip: this.options.maxPerAddress, refused, refused_total: this.refusedTotal, log_interval_ms: CONNECTION_REFUSAL_LOG_INTERVAL_MS },
      'connection refused: too many open connections from this address',
    );
  }
}
