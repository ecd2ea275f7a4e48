import { DEFAULT_MEMORY_LINK_DATAGRAM_SIZE_BYTES } from './constants.js';
import type { DatagramLink } from './datagram-link.js';
import { createPrng } from './prng.js';

/** Default bottleneck queue of the in-memory link (when it has a rate), in bytes. */
export const DEFAULT_MEMORY_LINK_QUEUE_LIMIT_BYTES = 64 * 1024;
/** Default PRNG seed of the in-memory link. */
export const DEFAULT_MEMORY_LINK_SEED = 1;

/** Impairments of an in-memory link, applied to each direction independently. */
export interface LossyLinkOptions {
  /** Probability that a datagram is dropped. Default 0. */
  lossRate?: number;
  /** Probability that a datagram is delivered twice. Default 0. */
  duplicateRate?: number;
  /** Probability that a datagram is held back by `reorderDelayMs` so later ones overtake it. Default 0. */
  reorderRate?: number;
  /** Extra delay of a reordered datagram, in ms. Default max(1, delayMs). */
  reorderDelayMs?: number;
  /** One-way delay, in ms. Default 0 (delivery on the next event-loop turn). */
  delayMs?: number;
  /** Uniform random extra delay in [0, jitterMs), in ms; order is kept (a queue). Default 0. */
  jitterMs?: number;
  /**
   * Bottleneck rate, in bytes per second: datagrams queue and leave one after another at
   * this rate (before `delayMs`). Default 0 (no bottleneck).
   */
  rateBytesPerSecond?: number;
  /** Bottleneck queue size, in bytes: a datagram that does not fit is dropped (tail drop). Default 64 KiB. */
  queueLimitBytes?: number;
  /** PRNG seed (deterministic impairments). Default DEFAULT_MEMORY_LINK_SEED. */
  seed?: number;
  /** Base datagram size (safe on the path), in bytes. Default DEFAULT_MEMORY_LINK_DATAGRAM_SIZE_BYTES (1160). */
  maxDatagramSize?: number;
  /** Larger sizes offered for path MTU discovery (the link accepts up to the largest). Default none. */
  probeDatagramSizes?: number[];
  /** The path's limit: datagrams above it are dropped silently, as a router drops a packet too big. Default Infinity. */
  pathMtuBytes?: number;
}

export interface MemoryLinkStats {
  sent: number;
  /** Dropped at random (`lossRate`). */
  dropped: number;
  /** Dropped because the bottleneck queue was full. */
  queueDropped: number;
  /** Dropped because they exceeded `pathMtuBytes`. */
  tooBigDropped: number;
  duplicated: number;
  reordered: number;
  delivered: number;
}

interface Pending {
  at: number;
  seq: number;
  datagram: Uint8Array | null;
}

/** A min-heap of pending deliveries ordered by time, then by send order. */
class DeliveryQueue {
  private readonly items: Pending[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Pending | undefined {
    return this.items[0];
  }

  push(item: Pending): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, items[parent] as Pending)) break;
      items[i] = items[parent] as Pending;
      i = parent;
    }
    items[i] = item;
  }

  pop(): Pending | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child = right < items.length && before(items[right] as Pending, items[left] as Pending) ? right : left;
        if (!before(items[child] as Pending, last)) break;
        items[i] = items[child] as Pending;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

function before(a: Pending, b: Pending): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * One end of an in-memory datagram link with seeded loss, duplication, reordering, delay
 * and jitter: the test shim under the transport. Datagrams are copied on send (as on a
 * wire). `close()` on either end closes both: the peer learns it after the datagrams
 * already in flight (like a DTLS close_notify).
 */
export class MemoryLink implements DatagramLink {
  readonly maxDatagramSize: number;
  readonly probeDatagramSizes: readonly number[];
  /** Largest datagram `send` accepts (the base size or the largest probe size). */
  private readonly sendLimit: number;
  readonly stats: MemoryLinkStats = { sent: 0, dropped: 0, queueDropped: 0, tooBigDropped: 0, duplicated: 0, reordered: 0, delivered: 0 };
  private options: Required<LossyLinkOptions>;
  private readonly random: () => number;
  private peer: MemoryLink | null = null;
  private receiver: ((datagram: Uint8Array) => void) | null = null;
  private closeHandler: ((err?: Error) => void) | null = null;
  private closed = false;
  /** Deliveries from this end to the peer. */
  private readonly queue = new DeliveryQueue();
  private seq = 0;
  private lastInOrderAt = 0;
  /** When the bottleneck has sent everything queued so far (performance.now() ms). */
  private bottleneckFreeAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private immediate: NodeJS.Immediate | null = null;
  /** Test hook: sees every datagram this end sends, before impairments. */
  onSend: ((datagram: Uint8Array) => void) | null = null;

  constructor(options: LossyLinkOptions, seed: number) {
    this.options = resolve(options);
    this.maxDatagramSize = this.options.maxDatagramSize;
    this.probeDatagramSizes = [...this.options.probeDatagramSizes];
    this.sendLimit = Math.max(this.maxDatagramSize, ...this.probeDatagramSizes);
    this.random = createPrng(seed);
  }

  /** @internal */
  connect(peer: MemoryLink): void {
    this.peer = peer;
  }

  /** Changes this end's impairments (for example a loss rate of 1 to cut the link one way). */
  configure(options: LossyLinkOptions): void {
    this.options = resolve({ ...this.options, ...options });
  }

  send(datagram: Uint8Array): void {
    if (this.closed || this.peer === null) return;
    if (datagram.length > this.sendLimit) {
      throw new RangeError(`datagram of ${datagram.length} bytes exceeds the link's largest size ${this.sendLimit}`);
    }
    this.stats.sent++;
    this.onSend?.(datagram);
    const o = this.options;
    if (datagram.length > o.pathMtuBytes) {
      this.stats.tooBigDropped++;
      return;
    }
    if (o.lossRate > 0 && this.random() < o.lossRate) {
      this.stats.dropped++;
      return;
    }
    const copy = Buffer.from(datagram);
    if (o.rateBytesPerSecond > 0 && !this.admitToBottleneck(copy.length)) {
      this.stats.queueDropped++;
      return;
    }
    this.enqueue(copy);
    if (o.duplicateRate > 0 && this.random() < o.duplicateRate) {
      this.stats.duplicated++;
      this.enqueue(copy);
    }
  }

  onDatagram(handler: (datagram: Uint8Array) => void): void {
    this.receiver = handler;
  }

  onClose(handler: (err?: Error) => void): void {
    this.closeHandler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // The peer hears of it after everything already in flight.
    const o = this.options;
    const at = performance.now() + o.delayMs + o.jitterMs + (o.reorderRate > 0 ? o.reorderDelayMs : 0);
    this.queue.push({ at, seq: this.seq++, datagram: null });
    this.schedule();
    const handler = this.closeHandler;
    this.closeHandler = null;
    handler?.();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Datagrams sent on this end and not yet delivered (or dropped) at the other: still on the wire. */
  get inFlight(): number {
    return this.queue.size;
  }

  /** Test hook: hands `datagram` to this end's receiver now, as if it had arrived. */
  inject(datagram: Uint8Array): void {
    if (!this.closed) this.receiver?.(datagram);
  }

  /** Queues `bytes` at the bottleneck unless its queue is full; its departure time becomes bottleneckFreeAt. */
  private admitToBottleneck(bytes: number): boolean {
    const now = performance.now();
    const bytesPerMs = this.options.rateBytesPerSecond / 1000;
    const start = Math.max(now, this.bottleneckFreeAt);
    if ((start - now) * bytesPerMs + bytes > this.options.queueLimitBytes) return false;
    this.bottleneckFreeAt = start + bytes / bytesPerMs;
    return true;
  }

  private enqueue(datagram: Uint8Array): void {
    const o = this.options;
    const departure = o.rateBytesPerSecond > 0 ? Math.max(performance.now(), this.bottleneckFreeAt) : performance.now();
    let at = departure + o.delayMs;
    // Jitter varies the delay but keeps FIFO order (a queue, not a reordering); only
    // `reorderRate` lets datagrams overtake each other.
    if (o.jitterMs > 0) at = Math.max(at + this.random() * o.jitterMs, this.lastInOrderAt);
    this.lastInOrderAt = at;
    if (o.reorderRate > 0 && this.random() < o.reorderRate) {
      this.stats.reordered++;
      at += o.reorderDelayMs;
    }
    this.queue.push({ at, seq: this.seq++, datagram });
    this.schedule();
  }

  private schedule(): void {
    const next = this.queue.peek();
    if (next === undefined || this.immediate !== null) return;
    const delay = next.at - performance.now();
    if (delay < 1) {
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
        this.timerAt = Infinity;
      }
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.deliver();
      });
      return;
    }
    if (this.timer !== null && this.timerAt <= next.at) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = next.at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.deliver();
    }, Math.ceil(delay));
  }

  private deliver(): void {
    const now = performance.now();
    const peer = this.peer;
    for (let next = this.queue.peek(); next !== undefined && next.at <= now + 0.5; next = this.queue.peek()) {
      this.queue.pop();
      if (peer === null) continue;
      if (next.datagram === null) {
        peer.closeFromPeer();
        continue;
      }
      if (peer.closed) continue;
      this.stats.delivered++;
      peer.receiver?.(next.datagram);
    }
    this.schedule();
  }

  private closeFromPeer(): void {
    if (this.closed) return;
    this.closed = true;
    const handler = this.closeHandler;
    this.closeHandler = null;
    handler?.();
  }
}

function resolve(options: LossyLinkOptions): Required<LossyLinkOptions> {
  const delayMs = options.delayMs ?? 0;
  return {
    lossRate: options.lossRate ?? 0,
    duplicateRate: options.duplicateRate ?? 0,
    reorderRate: options.reorderRate ?? 0,
    reorderDelayMs: options.reorderDelayMs ?? Math.max(1, delayMs),
    delayMs,
    jitterMs: options.jitterMs ?? 0,
    rateBytesPerSecond: options.rateBytesPerSecond ?? 0,
    queueLimitBytes: options.queueLimitBytes ?? DEFAULT_MEMORY_LINK_QUEUE_LIMIT_BYTES,
    seed: options.seed ?? DEFAULT_MEMORY_LINK_SEED,
    maxDatagramSize: options.maxDatagramSize ?? DEFAULT_MEMORY_LINK_DATAGRAM_SIZE_BYTES,
    probeDatagramSizes: options.probeDatagramSizes ?? [],
    pathMtuBytes: options.pathMtuBytes ?? Infinity,
  };
}

/**
 * Two connected in-memory link ends with the same impairments both ways (each direction
 * has its own seeded PRNG). `close()` on one end closes both.
 */
export function createMemoryLinkPair(options: LossyLinkOptions = {}): [MemoryLink, MemoryLink] {
  const seed = options.seed ?? DEFAULT_MEMORY_LINK_SEED;
  const a = new MemoryLink(options, seed);
  const b = new MemoryLink(options, seed + 0x9e3779b9);
  a.connect(b);
  b.connect(a);
  return [a, b];
}
