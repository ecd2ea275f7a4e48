import type { Logger } from './logger.js';

/**
 * Warn lines that a flood could repeat thousands of times a second: each kind is logged at
 * most once per interval, with the number of occurrences it stands for (`occurrences`,
 * this one included).
 */
/** Kinds remembered at most; past it they are forgotten (a guard: callers use a small set). */
export const MAX_THROTTLED_KINDS = 100;

export class ThrottledLog {
  private readonly kinds = new Map<string, { lastLoggedAt: number; unlogged: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `msg` at warn unless a line of `kind` was logged less than the interval ago. Kinds are a fixed, small set. */
  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.now();
    let state = this.kinds.get(kind);
    if (state === undefined) {
      if (this.kinds.size >= MAX_THROTTLED_KINDS) this.kinds.clear();
      state = { lastLoggedAt: -Infinity, unlogged: 0 };
      this.kinds.set(kind, state);
    }
    state.unlogged += 1;
    if (now - state.lastLoggedAt < this.intervalMs) return;
    this.logger.warn({ ...fields, occurrences: state.unlogged }, msg);
    state.lastLoggedAt = now;
    state.unlogged = 0;
  }
}
