import fs from 'node:fs';

/** Default interval between two VmRSS samples, in milliseconds. */
export const DEFAULT_RSS_SAMPLE_INTERVAL_MS = 100;

const KIB_BYTES = 1024;

/**
 * Resident set size of process `pid` in bytes, from the `VmRSS` line of /proc/<pid>/status
 * (Linux). Undefined when the process is gone or the line is missing.
 */
export function readRssBytes(pid: number): number | undefined {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) * KIB_BYTES : undefined;
}

/** What one sampled process did: resident size at the start, the highest seen, the number of samples. */
export interface RssFigures {
  idleBytes: number;
  peakBytes: number;
  /** peakBytes - idleBytes (never negative). */
  growthBytes: number;
  samples: number;
}

/**
 * Samples the VmRSS of a few named processes every `intervalMs` until stopped, keeping the
 * first reading (idle) and the highest one (peak) of each. A process that exits keeps its last
 * figures.
 */
export class RssSampler {
  private readonly figures = new Map<string, RssFigures>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pids: Readonly<Record<string, number>>,
    private readonly intervalMs: number = DEFAULT_RSS_SAMPLE_INTERVAL_MS,
  ) {}

  /** Takes the idle reading now and then one sample per interval. */
  start(): this {
    if (this.timer) throw new Error('RssSampler already started');
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  /** Takes a last sample, stops, and returns the figures per process name. */
  stop(): Record<string, RssFigures> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return this.snapshot();
  }

  /** The figures so far, per process name. */
  snapshot(): Record<string, RssFigures> {
    const out: Record<string, RssFigures> = {};
    for (const [name, f] of this.figures) out[name] = { ...f };
    return out;
  }

  private sample(): void {
    for (const [name, pid] of Object.entries(this.pids)) {
      const rss = readRssBytes(pid);
      if (rss === undefined) continue;
      const f = this.figures.get(name);
      if (!f) {
        this.figures.set(name, { idleBytes: rss, peakBytes: rss, growthBytes: 0, samples: 1 });
        continue;
      }
      f.samples += 1;
      if (rss > f.peakBytes) {
        f.peakBytes = rss;
        f.growthBytes = rss - f.idleBytes;
      }
    }
  }
}

/** `12.3 MiB`, for diagnostics. */
export function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
