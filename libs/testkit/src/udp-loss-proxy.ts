import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

/** Impairments applied to each datagram of one direction. */
export interface UdpImpairments {
  /** Probability that a datagram is dropped. */
  lossRate?: number;
  /** Probability that a datagram is held back by `reorderDelayMs`, so later ones overtake it. */
  reorderRate?: number;
  /** How long a reordered datagram is held back, in ms. */
  reorderDelayMs?: number;
  /** Probability that a datagram is delivered twice. */
  duplicateRate?: number;
  /**
   * Largest UDP payload the path carries, in bytes: larger datagrams are dropped, as a router
   * drops a packet too big for its next link (1452 models a 1500-byte Ethernet path). Default no limit.
   */
  maxPayloadBytes?: number;
  /**
   * Fixed one-way delay added to every datagram of this direction, in ms (default 0): two
   * directions of 10 ms make a 20 ms RTT on loopback. Datagrams keep their order (one FIFO).
   */
  delayMs?: number;
}

export interface UdpLossProxyOptions {
  /** Where datagrams from clients go (the hub's UDP address). */
  target: { host: string; port: number };
  /** Client -> target impairments. */
  upstream?: UdpImpairments;
  /** Target -> client impairments. */
  downstream?: UdpImpairments;
  /** PRNG seed: the same seed drops the same datagram numbers. Default 1. */
  seed?: number;
}

export interface UdpLossProxyStats {
  forwarded: number;
  dropped: number;
  /** Dropped for exceeding `maxPayloadBytes`. */
  tooBig: number;
  reordered: number;
  duplicated: number;
}

/** Default hold-back of a reordered datagram, in ms. */
export const DEFAULT_REORDER_DELAY_MS = 3;
/** A client address with no datagram for this long loses its upstream socket, in ms. */
export const PROXY_FLOW_IDLE_MS = 60_000;

/** mulberry32: a small deterministic PRNG returning [0, 1). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A datagram held by the one-way delay until `dueAt` (ms, performance.now()). */
interface Delayed {
  dueAt: number;
  datagram: Buffer;
  send: (d: Buffer) => void;
}

interface Flow {
  socket: dgram.Socket;
  lastSeen: number;
  /** Where this flow's datagrams go: fixed when the flow starts (retarget moves only new flows). */
  target: { host: string; port: number };
}

/**
 * A real UDP relay on loopback that drops, reorders and duplicates datagrams: the shim
 * between an agent and a hub in end-to-end loss tests and in the benchmark. Each client
 * address gets its own upstream socket, so the hub sees one peer per client.
 */
export class UdpLossProxy {
  readonly stats: UdpLossProxyStats = { forwarded: 0, dropped: 0, tooBig: 0, reordered: 0, duplicated: 0 };
  private readonly random: () => number;
  private readonly flows = new Map<string, Flow>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly front = dgram.createSocket('udp4');
  private sweeper: NodeJS.Timeout | undefined;
  private up: Required<UdpImpairments>;
  private target: { host: string; port: number };
  private down: Required<UdpImpairments>;
  private closed = false;
  /** Datagrams waiting out their direction's delayMs, oldest first (one fixed delay keeps FIFO order per direction). */
  private readonly delayed: { up: Delayed[]; down: Delayed[] } = { up: [], down: [] };
  private delayTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: UdpLossProxyOptions) {
    this.random = prng(options.seed ?? 1);
    this.target = options.target;
    this.up = resolve(options.upstream);
    this.down = resolve(options.downstream);
  }

  static async start(options: UdpLossProxyOptions): Promise<UdpLossProxy> {
    const proxy = new UdpLossProxy(options);
    await proxy.listen();
    return proxy;
  }

  /** The proxy's own address: give this to the agent as its `server`. */
  get port(): number {
    return (this.front.address() as AddressInfo).port;
  }

  /** Changes the impairments of both directions (same value for each unless given apart). */
  configure(upstream: UdpImpairments, downstream: UdpImpairments = upstream): void {
    this.up = resolve(upstream);
    this.down = resolve(downstream);
  }

  /**
   * Sends flows that start from now on to `target`; flows already running stay where they are,
   * as behind a load balancer with connection tracking (several hubs behind one UDP address).
   */
  retarget(target: { host: string; port: number }): void {
    this.target = target;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.delayTimer) clearTimeout(this.delayTimer);
    this.delayed.up.length = 0;
    this.delayed.down.length = 0;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const flow of this.flows.values()) flow.socket.close();
    this.flows.clear();
    await new Promise<void>((r) => this.front.close(() => r()));
  }

  private async listen(): Promise<void> {
    this.front.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
    this.front.on('error', () => undefined);
    await new Promise<void>((resolveListen) => this.front.bind(0, '127.0.0.1', () => resolveListen()));
    enlarge(this.front);
    this.sweeper = setInterval(() => this.sweep(), PROXY_FLOW_IDLE_MS).unref();
  }

  private fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = this.flows.get(key);
    if (!flow) {
      const socket = dgram.createSocket('udp4');
      socket.on('error', () => undefined);
      socket.on('message', (reply) => this.impair(reply, this.down, (d) => this.front.send(d, rinfo.port, rinfo.address)));
      socket.bind(0, '127.0.0.1', () => enlarge(socket));
      flow = { socket, lastSeen: Date.now(), target: this.target };
      this.flows.set(key, flow);
    }
    flow.lastSeen = Date.now();
    const { socket: upstream, target } = flow;
    this.impair(msg, this.up, (d) => upstream.send(d, target.port, target.host));
  }

  private impair(datagram: Buffer, imp: Required<UdpImpairments>, send: (d: Buffer) => void): void {
    if (this.closed) return;
    if (datagram.length > imp.maxPayloadBytes) {
      this.stats.tooBig++;
      return;
    }
    if (imp.lossRate > 0 && this.random() < imp.lossRate) {
      this.stats.dropped++;
      return;
    }
    const copies = imp.duplicateRate > 0 && this.random() < imp.duplicateRate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    const late = imp.reorderRate > 0 && this.random() < imp.reorderRate;
    for (let i = 0; i < copies; i++) {
      this.stats.forwarded++;
      if (late) {
        this.stats.reordered++;
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (!this.closed) safeSend(send, datagram);
        }, imp.reorderDelayMs);
        this.timers.add(t);
      } else if (imp.delayMs > 0) {
        this.hold(imp === this.up ? this.delayed.up : this.delayed.down, { dueAt: performance.now() + imp.delayMs, datagram, send });
      } else {
        safeSend(send, datagram);
      }
    }
  }

  /** Queues a delayed datagram; one timer serves both queues (a timer per datagram costs too much at 50k datagrams/s). */
  private hold(queue: Delayed[], item: Delayed): void {
    queue.push(item);
    if (!this.delayTimer) this.armDelayTimer();
  }

  private armDelayTimer(): void {
    const next = Math.min(this.delayed.up[0]?.dueAt ?? Infinity, this.delayed.down[0]?.dueAt ?? Infinity);
    if (next === Infinity) {
      this.delayTimer = undefined;
      return;
    }
    this.delayTimer = setTimeout(() => this.releaseDue(), Math.max(0, next - performance.now()));
  }

  private releaseDue(): void {
    if (this.closed) return;
    const now = performance.now();
    for (const queue of [this.delayed.up, this.delayed.down]) {
      let due = 0;
      while (due < queue.length && queue[due]!.dueAt <= now) {
        const item = queue[due]!;
        safeSend(item.send, item.datagram);
        due++;
      }
      if (due > 0) queue.splice(0, due);
    }
    this.armDelayTimer();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, flow] of this.flows) {
      if (now - flow.lastSeen > PROXY_FLOW_IDLE_MS) {
        flow.socket.close();
        this.flows.delete(key);
      }
    }
  }
}

/** Socket buffers large enough that the proxy itself does not drop bursts, in bytes. */
const PROXY_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

function enlarge(socket: dgram.Socket): void {
  try {
    socket.setRecvBufferSize(PROXY_SOCKET_BUFFER_BYTES);
    socket.setSendBufferSize(PROXY_SOCKET_BUFFER_BYTES);
  } catch {
    // The kernel may cap buffer sizes; the defaults still work, with more drops under bursts.
  }
}

function safeSend(send: (d: Buffer) => void, datagram: Buffer): void {
  try {
    send(datagram);
  } catch {
    // A socket closed under us: the datagram is lost, as on a real network.
  }
}

function resolve(imp: UdpImpairments | undefined): Required<UdpImpairments> {
  return {
    lossRate: imp?.lossRate ?? 0,
    maxPayloadBytes: imp?.maxPayloadBytes ?? Infinity,
    reorderRate: imp?.reorderRate ?? 0,
    reorderDelayMs: imp?.reorderDelayMs ?? DEFAULT_REORDER_DELAY_MS,
    duplicateRate: imp?.duplicateRate ?? 0,
    delayMs: imp?.delayMs ?? 0,
  };
}
