import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { formatHostPort, type ListenAddress } from '@hopgate/config';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';
import { type Logger, silentLogger } from '@hopgate/log';

/** A hub that failed is avoided for this long after its first failure in a row, in ms. */
export const HUB_FAILURE_COOLDOWN_MIN_MS = 10_000;
/** The cooldown doubles with each failure in a row up to this, in ms. */
export const HUB_FAILURE_COOLDOWN_MAX_MS = 300_000;

/** One address to dial: an IP address and port, from a configured `server` entry. */
export interface HubCandidate {
  /** IP address to dial. */
  address: string;
  port: number;
  /** `address:port` (IPv6 in brackets): identifies the hub in failure records, logs and `pick(avoid)`. */
  key: string;
  /** The configured entry it came from (`host:port` as written). */
  entry: string;
}

/** Resolves a host name to its addresses (A and AAAA); default: node:dns lookup (getaddrinfo, /etc/hosts too). */
export type HubResolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

export interface HubPickerOptions {
  resolve?: HubResolver;
  /** Default Math.random. */
  random?: () => number;
  /** Default Date.now. */
  now?: () => number;
  logger?: Logger;
}

interface FailureRecord {
  /** Failures in a row (reset by markHealthy). */
  count: number;
  /** When the last one happened, in ms. */
  at: number;
  /** Not picked while others are available until then, in ms. */
  avoidUntil: number;
}

const defaultResolver: HubResolver = (host) => lookup(host, { all: true });

/**
 * Chooses the hub the agent dials. The configured entries are resolved at each pick (a DNS
 * name may stand for several hubs, and DNS changes are followed); an entry that resolves to
 * IPv4 and IPv6 addresses yields its IPv4 ones (hubs listen on 0.0.0.0 by default).
 * A random candidate among those not marked failed is returned. A failure is remembered per
 * address: the address is avoided for a cooldown that starts at HUB_FAILURE_COOLDOWN_MIN_MS and
 * doubles per failure in a row (capped at HUB_FAILURE_COOLDOWN_MAX_MS); when every candidate is
 * cooling down, the one that failed least recently is tried. `pick(avoid)` returns another hub
 * than `avoid` whenever there is one (for moving off a hub that is still up).
 */
export class HubPicker {
  private readonly failures = new Map<string, FailureRecord>();
  private readonly resolve: HubResolver;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(
    private readonly entries: readonly ListenAddress[],
    options: HubPickerOptions = {},
  ) {
    if (entries.length === 0) throw new HopError(ErrorCode.BadConfig, 'hub picker: no server entries');
    this.resolve = options.resolve ?? defaultResolver;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.log = options.logger ?? silentLogger();
  }

  /**
   * The hub to dial next. Rejects with HopError(Unavailable) when no entry resolves to an
   * address (each unresolvable entry is logged at warn).
   */
  async pick(avoid?: string): Promise<HubCandidate> {
    const candidates = await this.candidates();
    if (candidates.length === 0) throw new HopError(ErrorCode.Unavailable, 'no hub address: no "server" entry resolves');
    const others = candidates.filter((candidate) => candidate.key !== avoid);
    const pool = others.length > 0 ? others : candidates;
    const now = this.now();
    const healthy = pool.filter((candidate) => (this.failures.get(candidate.key)?.avoidUntil ?? 0) <= now);
    if (healthy.length > 0) return healthy[Math.floor(this.random() * healthy.length)] ?? healthy[0]!;
    // Every candidate is cooling down: the one whose last failure is oldest.
    let best = pool[0]!;
    for (const candidate of pool) {
      if (this.failures.get(candidate.key)!.at < this.failures.get(best.key)!.at) best = candidate;
    }
    return best;
  }

  /** The hub could not be reached or its session ended: avoid it for a while. */
  markFailed(key: string): void {
    const now = this.now();
    const count = (this.failures.get(key)?.count ?? 0) + 1;
    const cooldown = Math.min(HUB_FAILURE_COOLDOWN_MAX_MS, HUB_FAILURE_COOLDOWN_MIN_MS * 2 ** Math.min(count - 1, 30));
    this.failures.set(key, { count, at: now, avoidUntil: now + cooldown });
  }

  /** A session on the hub was established: forget its failures. */
  markHealthy(key: string): void {
    this.failures.delete(key);
  }

  /** Failures in a row recorded for `key` (0 when none). */
  failuresOf(key: string): number {
    return this.failures.get(key)?.count ?? 0;
  }

  private async candidates(): Promise<HubCandidate[]> {
    const lists = await Promise.all(this.entries.map((entry) => this.resolveEntry(entry)));
    const seen = new Set<string>();
    const out: HubCandidate[] = [];
    for (const candidate of lists.flat()) {
      if (seen.has(candidate.key)) continue;
      seen.add(candidate.key);
      out.push(candidate);
    }
    return out;
  }

  private async resolveEntry(entry: ListenAddress): Promise<HubCandidate[]> {
    const written = formatHostPort(entry);
    const make = (address: string): HubCandidate => ({ address, port: entry.port, key: formatHostPort({ host: address, port: entry.port }), entry: written });
    if (isIP(entry.host) !== 0) return [make(entry.host)];
    let addresses: Array<{ address: string; family: number }>;
    try {
      addresses = await this.resolve(entry.host);
    } catch (err) {
      this.log.warn({ server: written, err: errorMessageOf(err) }, 'cannot resolve a hub address');
      return [];
    }
    const v4 = addresses.filter((a) => a.family === 4);
    return (v4.length > 0 ? v4 : addresses).map((a) => make(a.address));
  }
}
