import net from 'node:net';

/** Statistics of a TcpBalancer. */
export interface TcpBalancerStats {
  /** Connections forwarded, per backend port. */
  readonly forwarded: ReadonlyMap<number, number>;
  /** Connection attempts a backend refused (or failed); each was tried on the next backend. */
  readonly refusedAttempts: number;
  /** Client connections closed because no backend accepted. */
  readonly unplaced: number;
}

/**
 * A round-robin TCP load balancer on 127.0.0.1, as a cloud or Kubernetes L4 balancer behaves:
 * each new client connection goes to the next backend in turn; a backend that refuses the
 * connection is skipped and the next one tried; bytes are copied both ways until either side
 * closes. Backends can be swapped while it runs (a rolling restart).
 */
export class TcpBalancer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly forwarded = new Map<number, number>();
  private backends: number[];
  private next = 0;
  private refusedAttempts = 0;
  private unplaced = 0;

  constructor(backends: readonly number[]) {
    this.backends = [...backends];
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Listens on 127.0.0.1:`port` (0: a free port); resolves with the port. */
  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve(this.port));
    });
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Replaces the backend list (new connections only; open ones stay where they are). */
  setBackends(backends: readonly number[]): void {
    this.backends = [...backends];
  }

  get stats(): TcpBalancerStats {
    return { forwarded: new Map(this.forwarded), refusedAttempts: this.refusedAttempts, unplaced: this.unplaced };
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private accept(client: net.Socket): void {
    this.track(client);
    client.pause();
    let clientGone = false;
    client.once('close', () => (clientGone = true));
    client.on('error', () => client.destroy());
    const order = this.backends.length === 0 ? [] : this.backends.map((_, i) => this.backends[(this.next + i) % this.backends.length]!);
    this.next = this.backends.length === 0 ? 0 : (this.next + 1) % this.backends.length;
    const attempt = (i: number): void => {
      if (clientGone) return;
      const port = order[i];
      if (port === undefined) {
        this.unplaced += 1;
        client.destroy();
        return;
      }
      const upstream = net.connect(port, '127.0.0.1');
      this.track(upstream);
      upstream.once('error', () => {
        this.refusedAttempts += 1;
        attempt(i + 1);
      });
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        upstream.on('error', () => {
          upstream.destroy();
          client.destroy();
        });
        client.removeAllListeners('error');
        client.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
        // A side that closed ends the other once its pending bytes are written (a reset was an error above).
        upstream.once('close', () => client.end());
        client.once('close', () => upstream.end());
        this.forwarded.set(port, (this.forwarded.get(port) ?? 0) + 1);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  }
}
