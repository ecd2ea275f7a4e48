import { PACER_BURST_INTERVAL_MS, PACER_MIN_BURST_PACKETS, PACING_GAIN } from './constants.js';

/**
 * Token-bucket pacer (RFC 9002 §7.7, shaped like quic-go's): the rate is
 * PACING_GAIN * cwnd / smoothed_rtt; the bucket holds at most one burst, which is the
 * larger of PACER_MIN_BURST_PACKETS datagrams and PACER_BURST_INTERVAL_MS of sending
 * (timers tick in milliseconds, so finer spacing is not reachable), never above cwnd.
 */
export class Pacer {
  private maxDatagramSize: number;
  private budgetAtLastSent: number;
  private lastSentTime = -1;
  /** Bytes per millisecond, refreshed by `setRate`. */
  private rateBytesPerMs = 0;
  private maxBurstBytes: number;

  constructor(maxDatagramSize: number) {
    this.maxDatagramSize = maxDatagramSize;
    this.maxBurstBytes = PACER_MIN_BURST_PACKETS * maxDatagramSize;
    this.budgetAtLastSent = this.maxBurstBytes;
  }

  /** The path's datagram size changed (path MTU discovery). */
  setMaxDatagramSize(bytes: number): void {
    this.maxDatagramSize = bytes;
  }

  /** Current pacing rate, in bytes per second. */
  get rateBytesPerSecond(): number {
    return this.rateBytesPerMs * 1000;
  }

  /** Refreshes the rate from the congestion window and smoothed RTT (RFC 9002 §7.7). */
  setRate(congestionWindow: number, smoothedRttMs: number): void {
    this.rateBytesPerMs = (PACING_GAIN * congestionWindow) / Math.max(smoothedRttMs, 0.001);
    const minBurst = PACER_MIN_BURST_PACKETS * this.maxDatagramSize;
    this.maxBurstBytes = Math.max(minBurst, Math.min(this.rateBytesPerMs * PACER_BURST_INTERVAL_MS, congestionWindow));
  }

  /** Bytes that may be sent at `now`. */
  budget(now: number): number {
    if (this.lastSentTime < 0) return this.maxBurstBytes;
    const budget = this.budgetAtLastSent + (now - this.lastSentTime) * this.rateBytesPerMs;
    return budget < this.maxBurstBytes ? budget : this.maxBurstBytes;
  }

  canSend(now: number): boolean {
    return this.budget(now) >= this.maxDatagramSize;
  }

  onPacketSent(now: number, bytes: number): void {
    const budget = this.budget(now);
    this.budgetAtLastSent = budget > bytes ? budget - bytes : 0;
    this.lastSentTime = now;
  }

  /** When a full datagram may next be sent (only meaningful when `canSend` is false). */
  nextSendTime(now: number): number {
    const missing = this.maxDatagramSize - this.budget(now);
    return missing <= 0 ? now : now + missing / this.rateBytesPerMs;
  }
}
