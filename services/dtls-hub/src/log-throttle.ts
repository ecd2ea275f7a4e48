import { performance } from 'node:perf_hooks';

/**
 * At most one log line per `intervalMs` for a kind of event that can repeat thousands of
 * times a second (a flood): the first event logs, the next ones within the interval are only
 * counted, and the next line that is written reports how many were not.
 */
export class LogThrottle {
  private lastLineAt = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Undefined: do not log this one (it is counted); a number: log it, with this many events left unlogged since the last line. */
  take(): number | undefined {
    const now = this.now();
    if (now - this.lastLineAt < this.intervalMs) {
      this.unlogged += 1;
      return undefined;
    }
    const unlogged = this.unlogged;
    this.lastLineAt = now;
    this.unlogged = 0;
    return unlogged;
  }
}
