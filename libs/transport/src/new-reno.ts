import type { CongestionController } from './congestion-controller.js';
import {
  INITIAL_CONGESTION_WINDOW_PACKETS,
  LOSS_REDUCTION_FACTOR,
} from './constants.js';
import { WindowGrowth } from './window-growth.js';

/**
 * NewReno congestion control (RFC 9002 §7.3): slow start, recovery, congestion avoidance.
 * Owns bytes_in_flight. Times are performance.now() milliseconds. Every loss event outside
 * a recovery period halves the window: the reference controller (`congestionControl:
 * 'new-reno'`), replaced by default with LossTolerantController.
 */
export class NewReno implements CongestionController {
  /** congestion_window, in bytes */
  congestionWindow: number;
  /** ssthresh, in bytes (RFC 9002 §7.3.1: infinite at start) */
  slowStartThreshold = Infinity;
  /** bytes_in_flight (RFC 9002 §B.2) */
  bytesInFlight = 0;
  /** congestion_recovery_start_time (RFC 9002 §B.2); -Infinity when never in recovery */
  private recoveryStartTime = -Infinity;
  private readonly growth: WindowGrowth;
  reductions = 0;
  /** NewReno tolerates no loss event. */
  readonly toleratedLossEvents = 0;

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

  get inSlowStart(): boolean {
    return this.congestionWindow < this.slowStartThreshold;
  }

  /** Room left in the window for in-flight bytes. */
  get available(): number {
    return this.congestionWindow - this.bytesInFlight;
  }

  onPacketSent(bytes: number): void {
    this.bytesInFlight += bytes;
  }

  /** A packet was acknowledged; `priorInFlight` is bytes_in_flight before this ACK (RFC 9002 §7.8). */
  onPacketAcked(bytes: number, timeSent: number, priorInFlight: number, _now: number): void {
    this.bytesInFlight -= bytes;
    // RFC 9002 §7.3.2: no increase for packets sent before recovery started.
    if (timeSent <= this.recoveryStartTime) return;
    // RFC 9002 §7.8: no increase while the window is not the limit (application- or flow-control-limited).
    if (!this.growth.wasWindowLimited(priorInFlight, this.congestionWindow, this.inSlowStart)) return;
    this.congestionWindow = this.growth.grow(this.congestionWindow, bytes, this.inSlowStart);
  }

  /** An in-flight packet was declared lost: it leaves bytes_in_flight (RFC 9002 §B.8). */
  onPacketLost(bytes: number): void {
    this.bytesInFlight -= bytes;
  }

  /** NewReno does not undo a reduction for a spurious loss. */
  onSpuriousLoss(_bytes: number): void {}

  /** An in-flight packet was forgotten without being acked or lost (connection closing). */
  onPacketDiscarded(bytes: number): void {
    this.bytesInFlight -= bytes;
  }

  /** A loss of a packet sent at `timeSent` (RFC 9002 §7.3.2, §B.6 OnCongestionEvent). */
  onCongestionEvent(timeSent: number, now: number): void {
    if (timeSent <= this.recoveryStartTime) return;
    this.recoveryStartTime = now;
    this.reductions++;
    this.slowStartThreshold = Math.max(this.congestionWindow * LOSS_REDUCTION_FACTOR, this.minimumWindow);
    this.congestionWindow = this.slowStartThreshold;
    this.growth.reset();
  }

  setMaxDatagramSize(bytes: number): void {
    this.congestionWindow = this.growth.setMaxDatagramSize(bytes, this.congestionWindow);
  }

  /** Persistent congestion (RFC 9002 §7.6.2): collapse to the minimum window. */
  onPersistentCongestion(): void {
    this.congestionWindow = this.minimumWindow;
    this.recoveryStartTime = -Infinity;
    this.growth.reset();
  }
}
