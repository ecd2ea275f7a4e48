import type { Socket } from 'node:net';
import type { Logger } from '@hopgate/log';

/**
 * One deadline per connection on the HTTPS port, from its TCP connect to its completed TLS
 * handshake (HOPGATE_TLS_HANDSHAKE_TIMEOUT_MS): the ClientHello the front reads and the
 * handshake node's TLS server runs after it count together, so a client that sends its
 * ClientHello byte by byte, or sends it and then nothing, is closed at the same bound.
 * (Node's own `handshakeTimeout` starts only when the server gets the socket, and is an
 * idle timer.) The TLS server reports a completed handshake with the TLSSocket it made,
 * which has no public link to the TCP socket it wraps: the two are matched by the
 * connection's four ends (addresses and ports of both sides), which the kernel keeps unique
 * among open connections.
 */
export class HandshakeDeadlines {
  private readonly pending = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();

  constructor(
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** Connections whose handshake has not completed yet. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Starts the clock of a new TCP connection: it is destroyed unless `settle` comes first. */
  start(socket: Socket): void {
    const key = peerKey(socket);
    if (key === undefined) {
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => {
      this.pending.delete(key);
      this.log.debug({ remote: socket.remoteAddress, timeout_ms: this.timeoutMs, bytes_read: socket.bytesRead }, 'tls: handshake not complete in time: closing');
      socket.destroy();
    }, this.timeoutMs);
    timer.unref();
    this.pending.set(key, { socket, timer });
    socket.once('close', () => {
      const entry = this.pending.get(key);
      if (entry?.socket !== socket) return;
      clearTimeout(entry.timer);
      this.pending.delete(key);
    });
  }

  /** The TLS handshake of a connection completed (`tlsSocket` as the TLS server emits it): its clock stops. */
  settle(tlsSocket: Socket): void {
    const key = peerKey(tlsSocket);
    if (key === undefined) return;
    const entry = this.pending.get(key);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.pending.delete(key);
  }
}

/** The connection's four ends (addresses and ports of both sides): unique among open connections, the same on the raw and the TLS socket. */
function peerKey(socket: Socket): string | undefined {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (remoteAddress === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined) return undefined;
  return `${remoteAddress}|${remotePort}|${localAddress}|${localPort}`;
}
