import type { CongestionController } from './congestion-controller.js';
import {
  INITIAL_CONGESTION_WINDOW_PACKETS,
  LOSS_TOLERANCE_FRACTION,
  LOSS_TOLERANT_REDUCTION_FACTOR,
} from './constants.js';
import { WindowGrowth } from './window-growth.js';

/** The states of the loss-tolerant controller. */
export const CongestionState = {
  /** cwnd < ssthresh: the window grows by the bytes acknowledged (RFC 9002 §7.3.1). */
  SlowStart: 'slow_start',
  /** cwnd >= ssthresh: one datagram more per window acknowledged (RFC 9002 §7.3.3). */
  CongestionAvoidance: 'congestion_avoidance',
  /** After a reduction, until a packet sent after it is acknowledged: no growth, no further reduction (RFC 9002 §7.3.2). */
  Recovery: 'recovery',
} as const;
export type CongestionState = (typeof CongestionState)[keyof typeof CongestionState];

/**
 * A loss-tolerant NewReno (RFC 9002 §7 with two changes) for a link whose datagrams are
 * lost at random, not only when a queue overflows:
 *
 * 1. A loss event reduces the window only when the bytes lost in the current round trip
 *    exceed LOSS_TOLERANCE_FRACTION of the round's traffic (BBRv2-style loss tolerance).
 *    Random loss of a few percent is repaired by retransmission without touching the
 *    window; a queue overflowing (many losses in one round) or sustained heavy loss still
 *    reduces it, round after round.
 * 2. A reduction multiplies the window by CUBIC's beta 0.7 (RFC 9438 §4.6), not 0.5.
 *
 * Kept from RFC 9002: slow start, congestion avoidance, at most one reduction per round
 * trip (the recovery period, §7.3.2), collapse to the minimum window on persistent
 * congestion (§7.6.2), no growth while not window-limited (§7.8).
 *
 * A round trip starts when an ACK arrives for a packet sent after the previous round
 * started; the loss counters restart with each round.
 */
export class LossTolerantController implements CongestionController {
  congestionWindow: number;
  slowStartThreshold = Infinity;
  bytesInFlight = 0;
  reductions = 0;
  toleratedLossEvents = 0;
  state: CongestionState = CongestionState.SlowStart;
  /** congestion_recovery_start_time (RFC 9002 §B.2); -Infinity when never in recovery */
  private recoveryStartTime = -Infinity;
  private readonly growth: WindowGrowth;
  /** When the current round trip started; an ACK of a packet sent at or after it ends the round. */
  private roundStartTime = -Infinity;
  private roundAckedBytes = 0;
  private roundLostBytes = 0;

  constructor(maxDatagramSize: number) {
    this.congestionWindow = INITIAL_CONGESTION_WINDOW_PACKETS * maxDatagramSize;
    this.growth = new WindowGrowth(maxDatagramSize);
  }

  get maxDatagramSize(): number {
    return this.growth.maxDatagramSize;
  }

  get minimumWindow(): number {
    return this.growth.minimumWindow;
  }

  onPacketSent(bytes: number): void {
    this.bytesInFlight += bytes;
  }

  onPacketAcked(bytes: number, timeSent: number, priorInFlight: number, now: number): void {
    this.bytesInFlight -= bytes;
    if (timeSent >= this.roundStartTime) this.startRound(now);
    this.roundAckedBytes += bytes;
    if (this.state === CongestionState.Recovery) {
      // RFC 9002 §7.3.2: recovery ends when a packet sent during it is acknowledged.
      if (timeSent <= this.recoveryStartTime) return;
      this.state = CongestionState.CongestionAvoidance;
    }
    // RFC 9002 §7.8: no increase while the window is not the limit (application- or flow-control-limited).
    const inSlowStart = this.state === CongestionState.SlowStart;
    if (!this.growth.wasWindowLimited(priorInFlight, this.congestionWindow, inSlowStart)) return;
    this.congestionWindow = this.growth.grow(this.congestionWindow, bytes, inSlowStart);
    if (inSlowStart && this.congestionWindow >= this.slowStartThreshold) this.state = CongestionState.CongestionAvoidance;
  }

  onPacketLost(bytes: number): void {
    this.bytesInFlight -= bytes;
    this.roundLostBytes += bytes;
  }

  onSpuriousLoss(bytes: number): void {
    // The bytes arrived: they no longer count against this round's loss tolerance.
    this.roundLostBytes = Math.max(0, this.roundLostBytes - bytes);
  }

  onPacketDiscarded(bytes: number): void {
    this.bytesInFlight -= bytes;
  }

  onCongestionEvent(timeSent: number, now: number): void {
    // RFC 9002 §7.3.2: one reduction per round trip; losses of packets sent before recovery started do not count again.
    if (timeSent <= this.recoveryStartTime) return;
    const roundTraffic = Math.max(this.roundAckedBytes + this.roundLostBytes, this.congestionWindow);
    if (this.roundLostBytes <= LOSS_TOLERANCE_FRACTION * roundTraffic) {
      this.toleratedLossEvents++;
      return;
    }
    this.reductions++;
    this.recoveryStartTime = now;
    // RFC 9438 §4.6: ssthresh = cwnd * beta_cubic; RFC 9002 §7.3.2: the window drops to it at once.
    this.slowStartThreshold = Math.max(this.congestionWindow * LOSS_TOLERANT_REDUCTION_FACTOR, this.minimumWindow);
    this.congestionWindow = this.slowStartThreshold;
    this.growth.reset();
    this.state = CongestionState.Recovery;
    // The losses were acted on: the next reduction needs new losses beyond the tolerance.
    this.startRound(now);
  }

  setMaxDatagramSize(bytes: number): void {
    this.congestionWindow = this.growth.setMaxDatagramSize(bytes, this.congestionWindow);
  }

  onPersistentCongestion(): void {
    // RFC 9002 §7.6.2: the window collapses to the minimum; slow start then climbs to a
    // threshold below the window that was in use (even if the loss event itself was tolerated).
    this.slowStartThreshold = Math.max(Math.min(this.slowStartThreshold, this.congestionWindow * LOSS_TOLERANT_REDUCTION_FACTOR), this.minimumWindow);
    this.congestionWindow = this.minimumWindow;
    this.recoveryStartTime = -Infinity;
    this.growth.reset();
    this.state = this.congestionWindow < this.slowStartThreshold ? CongestionState.SlowStart : CongestionState.CongestionAvoidance;
  }

  private startRound(now: number): void {
    this.roundStartTime = now;
    this.roundAckedBytes = 0;
    this.roundLostBytes = 0;
  }
}
