import net from 'node:net';

/** Longest wait for one backend's TCP connect before the next one is tried, in ms. */
export const BALANCER_CONNECT_TIMEOUT_MS = 2_000;

export interface TcpBalancerOptions {
  /** Backend ports on 127.0.0.1, tried in round-robin order. */
  backends: readonly number[];
  /** Port to listen on (default: one the kernel picks). */
  port?: number;
}

/** Per-backend connection counts since start. */
export interface TcpBalancerStats {
  /** Connections forwarded to each backend (index as in `backends`). */
  forwarded: number[];
  /** Connect attempts each backend refused (or that timed out). */
  refused: number[];
  /** Client connections closed because every backend refused. */
  dropped: number;
}

/**
 * A round-robin TCP balancer, as a cloud load balancer or a Kubernetes Service in front of
 * ingress pods: each new client connection goes to the next backend that accepts, skipping one
 * that refuses (a killed or stopping process); bytes are then spliced both ways untouched (TLS
 * ends at the backend). A backend that dies closes the connections it had, nothing more: the
 * balancer does no health checks and no retries of bytes already sent.
 */
export class TcpBalancer {
  private readonly server: net.Server;
  private next = 0;
  private readonly sockets = new Set<net.Socket>();
  readonly stats: TcpBalancerStats;
  port = 0;

  private constructor(private readonly options: TcpBalancerOptions) {
    this.stats = { forwarded: options.backends.map(() => 0), refused: options.backends.map(() => 0), dropped: 0 };
    this.server = net.createServer({ pauseOnConnect: true }, (client) => this.accept(client));
  }

  static async start(options: TcpBalancerOptions): Promise<TcpBalancer> {
    const balancer = new TcpBalancer(options);
    await new Promise<void>((resolve, reject) => {
      balancer.server.once('error', reject);
      balancer.server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const addr = balancer.server.address();
    balancer.port = typeof addr === 'object' && addr ? addr.port : 0;
    return balancer;
  }

  get backends(): readonly number[] {
    return this.options.backends;
  }

  /** Stops listening and cuts every spliced connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private accept(client: net.Socket): void {
    this.track(client);
    client.on('error', () => client.destroy());
    const count = this.options.backends.length;
    const first = this.next;
    this.next = (this.next + 1) % count;
    this.tryBackend(client, first, 0);
  }

  /** Tries backend `(first + attempt) % count`; on refusal, the one after it, until each was tried once. */
  private tryBackend(client: net.Socket, first: number, attempt: number): void {
    const count = this.options.backends.length;
    if (client.destroyed) return;
    if (attempt >= count) {
      this.stats.dropped += 1;
      client.destroy();
      return;
    }
    const index = (first + attempt) % count;
    const upstream = net.connect({ port: this.options.backends[index]!, host: '127.0.0.1' });
    this.track(upstream);
    const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), BALANCER_CONNECT_TIMEOUT_MS);
    const refused = (): void => {
      clearTimeout(timer);
      this.stats.refused[index]! += 1;
      upstream.destroy();
      this.tryBackend(client, first, attempt + 1);
    };
    upstream.once('error', refused);
    upstream.once('connect', () => {
      clearTimeout(timer);
      upstream.off('error', refused);
      this.stats.forwarded[index]! += 1;
      upstream.on('error', () => upstream.destroy());
      // Either side closing (or failing) ends the other: a dead backend's clients see their connection cut.
      upstream.once('close', () => client.destroy());
      client.once('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }
}
