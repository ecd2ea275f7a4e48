/** Period of the event-loop probe timer, in ms. */
export const LOOP_PROBE_INTERVAL_MS = 500;
/**
 * A turn of the event loop later than this, in ms, counts as a blocked loop: /healthz answers
 * 503 while one was seen within LOOP_BLOCK_MEMORY_MS. Far above GC pauses and busy moments
 * (tens of ms); a loop stuck this long is a process that serves nobody.
 */
export const LOOP_BLOCKED_BOUND_MS = 2_000;
/** How long a blocked loop stays reported, in ms: one Kubernetes probe period (10 s). */
export const LOOP_BLOCK_MEMORY_MS = 10_000;

export interface LoopMonitorOptions {
  /** Default LOOP_BLOCKED_BOUND_MS. */
  blockedBoundMs?: number;
  /** Default LOOP_PROBE_INTERVAL_MS. */
  probeIntervalMs?: number;
  /** Default LOOP_BLOCK_MEMORY_MS. */
  memoryMs?: number;
}

/** What /healthz reports of the event loop. */
export interface LoopHealth {
  readonly healthy: boolean;
  /** Longest lateness of the probe timer seen within the memory window (the current one included), in ms. */
  readonly delayMs: number;
}

/**
 * Measures event-loop delay with a timer: each probe notes how late it fired. A request
 * answered after a long block sees the block too (the probe that should have fired meanwhile
 * is overdue by then), so /healthz of a loop that was just stuck says so.
 */
export class LoopMonitor {
  private readonly boundMs: number;
  private readonly intervalMs: number;
  private readonly memoryMs: number;
  private timer: NodeJS.Timeout | undefined;
  private expectedAt = 0;
  /** Time (ms since epoch) and size of the last delay over the bound. */
  private lastBlockAt = 0;
  private lastBlockMs = 0;

  constructor(options: LoopMonitorOptions = {}) {
    this.boundMs = options.blockedBoundMs ?? LOOP_BLOCKED_BOUND_MS;
    this.intervalMs = options.probeIntervalMs ?? LOOP_PROBE_INTERVAL_MS;
    this.memoryMs = options.memoryMs ?? LOOP_BLOCK_MEMORY_MS;
  }

  start(): void {
    if (this.timer) return;
    this.expectedAt = Date.now() + this.intervalMs;
    this.timer = setInterval(() => this.probe(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get health(): LoopHealth {
    const now = Date.now();
    const overdue = this.timer ? Math.max(0, now - this.expectedAt) : 0;
    const remembered = now - this.lastBlockAt <= this.memoryMs ? this.lastBlockMs : 0;
    const delayMs = Math.max(overdue, remembered);
    return { healthy: delayMs <= this.boundMs, delayMs };
  }

  private probe(): void {
    const now = Date.now();
    const late = now - this.expectedAt;
    if (late > this.boundMs) {
      this.lastBlockAt = now;
      this.lastBlockMs = late;
    }
    this.expectedAt = now + this.intervalMs;
  }
}
