import {
  PMTU_BLACK_HOLE_LOST_PACKETS,
  PMTU_MAX_PROBES,
  PMTU_RAISE_INTERVAL_MS,
} from './constants.js';

/**
 * Datagram packetization layer PMTU discovery (DPLPMTUD, RFC 8899 §5.2; for QUIC, RFC 9000
 * §14.3), over the sizes a link says it may carry. The connection starts at the link's base
 * size (safe on any path) and probes the next larger candidate with a padded PING packet
 * that is not counted as in flight: its loss is no congestion signal (RFC 9000 §14.4).
 *
 *   Searching --probe acked--> Searching (next candidate) | SearchComplete (no candidate left)
 *   Searching --PMTU_MAX_PROBES probes of one size lost--> SearchComplete
 *   SearchComplete --PMTU_RAISE_INTERVAL_MS--> Searching (the next candidate again)
 *   Searching | SearchComplete --PMTU_BLACK_HOLE_LOST_PACKETS large packets lost in a row--> Confirming
 *   Confirming --a probe of the current size acked--> the state before (it was congestion)
 *   Confirming --PMTU_MAX_PROBES probes of the current size lost--> SearchComplete at the base size
 *
 * Confirming tells a black hole (the path shrank: RFC 8899 §4.3) from a congested queue that
 * dropped a run of packets: only probes of the current size, one RTT apart, that all get lost
 * mean the size no longer passes. The connection sends the packets of a probe timeout
 * (RFC 9002 §6.2.4) at the base size, so they get through a path that shrank; their
 * acknowledgements then declare the large packets lost, which is how the run is seen.
 */
export const PmtuState = {
  Searching: 'searching',
  SearchComplete: 'search-complete',
  Confirming: 'confirming',
} as const;
export type PmtuState = (typeof PmtuState)[keyof typeof PmtuState];

export class PmtuSearch {
  /** The size packets are built at now (PLPMTU). */
  current: number;
  state: PmtuState = PmtuState.Searching;
  /** Candidate sizes above the base, ascending. */
  private readonly candidates: readonly number[];
  /** Index of the next candidate to probe. */
  private next = 0;
  /** Probes of candidates[next] lost so far. */
  private lostProbes = 0;
  /** Size of the probe in flight, 0 when none. */
  private outstanding = 0;
  private completedAt = 0;
  /** Packets above the base size lost in a row (none acknowledged between). */
  private largeLossesInARow = 0;
  /** While Confirming: the state to return to, and confirmation probes lost so far. */
  private stateBeforeConfirming: PmtuState = PmtuState.SearchComplete;
  private lostConfirmations = 0;
  /** Times the size fell back to the base because of a black hole. */
  blackHoles = 0;

  constructor(
    readonly base: number,
    candidates: readonly number[],
  ) {
    this.current = base;
    this.candidates = [...new Set(candidates)].filter((size) => size > base).sort((a, b) => a - b);
    if (this.candidates.length === 0) this.state = PmtuState.SearchComplete;
  }

  /** The size of the probe to send now, or 0 when none is due. */
  probeSize(now: number): number {
    if (this.outstanding !== 0) return 0;
    if (this.state === PmtuState.Confirming) return this.current;
    if (this.state === PmtuState.SearchComplete) {
      // RFC 8899 §5.1.1 PMTU_RAISE_TIMER: try larger sizes again now and then.
      if (this.next >= this.candidates.length || now - this.completedAt < PMTU_RAISE_INTERVAL_MS) return 0;
      this.state = PmtuState.Searching;
      this.lostProbes = 0;
    }
    return this.candidates[this.next] ?? 0;
  }

  onProbeSent(size: number): void {
    this.outstanding = size;
  }

  /** RFC 8899 §5.2: an acknowledged probe confirms its size; the search goes on upwards. Returns true when `current` changed. */
  onProbeAcked(size: number, now: number): boolean {
    if (size === this.outstanding) this.outstanding = 0;
    if (this.state === PmtuState.Confirming && size === this.current) {
      // The current size still passes: the run of losses was congestion.
      this.state = this.stateBeforeConfirming;
      this.largeLossesInARow = 0;
      return false;
    }
    if (size <= this.current) return false;
    this.current = size;
    this.largeLossesInARow = 0;
    while (this.next < this.candidates.length && (this.candidates[this.next] as number) <= size) this.next++;
    this.lostProbes = 0;
    if (this.next >= this.candidates.length) this.complete(now);
    return true;
  }

  /**
   * RFC 8899 §5.1.2 MAX_PROBES: after that many lost probes of one size the search stops below
   * it; while Confirming, that many lost probes of the current size fall back to the base.
   * Returns true when `current` changed.
   */
  onProbeLost(size: number, now: number): boolean {
    if (size === this.outstanding) this.outstanding = 0;
    if (this.state === PmtuState.Confirming) {
      if (size !== this.current) return false;
      this.lostConfirmations++;
      return this.lostConfirmations >= PMTU_MAX_PROBES ? this.fallBack(now) : false;
    }
    if (this.state !== PmtuState.Searching || size !== this.candidates[this.next]) return false;
    this.lostProbes++;
    if (this.lostProbes >= PMTU_MAX_PROBES) this.complete(now);
    return false;
  }

  /** A packet (not a probe) of `size` bytes was acknowledged. */
  onPacketAcked(size: number): void {
    if (size > this.base) this.largeLossesInARow = 0;
  }

  /**
   * A packet (not a probe) was declared lost. RFC 8899 §4.3 / RFC 9000 §14.4: when packets
   * above the base size keep getting lost, the path may have shrunk (a black hole): confirm
   * the current size with probes.
   */
  onPacketLost(size: number): void {
    if (size <= this.base || this.current === this.base || this.state === PmtuState.Confirming) return;
    this.largeLossesInARow++;
    if (this.largeLossesInARow < PMTU_BLACK_HOLE_LOST_PACKETS) return;
    this.stateBeforeConfirming = this.state;
    this.state = PmtuState.Confirming;
    this.lostConfirmations = 0;
    this.outstanding = 0; // a search probe still in flight no longer matters
  }

  private fallBack(now: number): boolean {
    this.current = this.base;
    this.next = 0;
    this.lostProbes = 0;
    this.largeLossesInARow = 0;
    this.blackHoles++;
    this.complete(now);
    return true;
  }

  private complete(now: number): void {
    this.state = PmtuState.SearchComplete;
    this.completedAt = now;
  }
}
