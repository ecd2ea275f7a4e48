import dgram from 'node:dgram';

/** Decides what to forward for one datagram: the datagrams to send on (empty: drop). */
export type RelayHook = (datagram: Buffer) => Buffer[];

const forward: RelayHook = (datagram) => [datagram];

/**
 * A UDP relay between one client and a server, for tests: clients connect to `port`; the
 * server sees the relay's upstream socket (`upstreamPort`, bound with reuseAddr so a test
 * can bind a second socket to the same address). Hooks can drop, alter or duplicate.
 */
export class UdpRelay {
  toServer: RelayHook = forward;
  toClient: RelayHook = forward;
  private client: dgram.RemoteInfo | undefined;

  private constructor(
    private readonly downstream: dgram.Socket,
    private readonly upstream: dgram.Socket,
    private readonly target: { host: string; port: number },
  ) {
    downstream.on('message', (datagram, rinfo) => {
      this.client = rinfo;
      for (const out of this.toServer(datagram)) upstream.send(out, target.port, target.host);
    });
    upstream.on('message', (datagram) => {
      const client = this.client;
      if (!client) return;
      for (const out of this.toClient(datagram)) downstream.send(out, client.port, client.address);
    });
  }

  static async start(target: { host: string; port: number }): Promise<UdpRelay> {
    const bind = (socket: dgram.Socket): Promise<void> =>
      new Promise((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, '127.0.0.1', () => resolve());
      });
    const downstream = dgram.createSocket('udp4');
    const upstream = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await bind(downstream);
    await bind(upstream);
    return new UdpRelay(downstream, upstream, target);
  }

  /** Sends a datagram to the server from the relay's upstream socket, as if the client had sent it. */
  sendToServer(datagram: Buffer): void {
    this.upstream.send(datagram, this.target.port, this.target.host);
  }

  /** Where clients send. */
  get port(): number {
    return this.downstream.address().port;
  }

  /** The source port the server sees. */
  get upstreamPort(): number {
    return this.upstream.address().port;
  }

  async close(): Promise<void> {
    await Promise.all([
      new Promise<void>((resolve) => this.downstream.close(() => resolve())),
      new Promise<void>((resolve) => this.upstream.close(() => resolve())),
    ]);
  }
}
