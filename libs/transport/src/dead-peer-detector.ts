import { DEAD_PEER_PTO_MULTIPLIER, MAX_DEAD_PEER_MS, MIN_DEAD_PEER_MS } from './constants.js';
import type { RttEstimator } from './rtt-estimator.js';

/**
 * Notices a peer that stopped answering, long before the idle timeout (RFC 9000 §10.1.2
 * keep-alive, RFC 9002 §6.2 probe timeout): while ack-eliciting packets are outstanding, an
 * acknowledgement must arrive within `bound()`; the clock starts at the first ack-eliciting
 * packet sent while nothing was awaited, and restarts at every ACK that newly acknowledges a
 * packet. An idle connection arms it with its keepalive PING.
 *
 * States: quiet (`waitingSince` = Infinity: nothing awaited) -> awaiting (since a time) ->
 * quiet again on an ACK with nothing left outstanding. The connection closes when the
 * deadline passes with something still outstanding.
 */
export class DeadPeerDetector {
  /** When the wait for an acknowledgement started (performance.now() ms), or Infinity. */
  private waitingSince = Infinity;

  constructor(private readonly rtt: RttEstimator) {}

  /** An ack-eliciting packet left: the wait starts now unless one is already running. */
  onAckElicitingSent(now: number): void {
    if (this.waitingSince === Infinity) this.waitingSince = now;
  }

  /** An ACK newly acknowledged packets: the peer is alive; wait again from now if more is outstanding. */
  onAcknowledged(now: number, stillOutstanding: boolean): void {
    this.waitingSince = stillOutstanding ? now : Infinity;
  }

  /**
   * max(MIN_DEAD_PEER_MS, DEAD_PEER_PTO_MULTIPLIER * (smoothed_rtt + 4 * rttvar)), capped at
   * MAX_DEAD_PEER_MS, in ms.
   */
  bound(): number {
    const ptoBase = this.rtt.smoothedRtt + 4 * this.rtt.rttVar;
    return Math.min(MAX_DEAD_PEER_MS, Math.max(MIN_DEAD_PEER_MS, DEAD_PEER_PTO_MULTIPLIER * ptoBase));
  }

  /** When the peer is declared dead if nothing is acknowledged before; Infinity when nothing is awaited. */
  deadline(outstanding: boolean): number {
    if (!outstanding || this.waitingSince === Infinity) return Infinity;
    return this.waitingSince + this.bound();
  }

  /** How long the current wait has lasted at `now`, in ms (0 when nothing is awaited). */
  waitedMs(now: number): number {
    return this.waitingSince === Infinity ? 0 : now - this.waitingSince;
  }
}
