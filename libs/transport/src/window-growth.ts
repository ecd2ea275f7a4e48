import { MAX_CONGESTION_WINDOW_BYTES, MIN_CONGESTION_WINDOW_PACKETS } from './constants.js';

/**
 * Datagrams of headroom under which a window still counts as the limit: less than this much
 * room left means the sender was window-limited (RFC 9002 §7.8).
 */
export const WINDOW_LIMITED_HEADROOM_PACKETS = 3;

/**
 * The growth rules both congestion controllers share (RFC 9002 §7.3.1, §7.3.3, §7.8): they
 * differ only in how they react to loss. Holds the datagram size both measure windows in,
 * and the bytes acknowledged in congestion avoidance that have not yet become a datagram of
 * window.
 */
export class WindowGrowth {
  private bytesAckedInAvoidance = 0;

  constructor(private datagramSize: number) {}

  /** max_datagram_size (RFC 9002 §7.2), in bytes. */
  get maxDatagramSize(): number {
    return this.datagramSize;
  }

  /** kMinimumWindow (RFC 9002 §7.2), in bytes. */
  get minimumWindow(): number {
    return MIN_CONGESTION_WINDOW_PACKETS * this.datagramSize;
  }

  /**
   * The path's datagram size changed (path MTU discovery): growth steps and the minimum
   * window follow it; returns `congestionWindow`, raised to the new minimum if below it (the
   * window is otherwise kept in bytes: RFC 9002 §7.2 recomputes only the initial window).
   */
  setMaxDatagramSize(bytes: number, congestionWindow: number): number {
    this.datagramSize = bytes;
    return Math.max(congestionWindow, this.minimumWindow);
  }

  /** RFC 9002 §7.8: whether the window, not the application or flow control, limited sending. */
  wasWindowLimited(priorInFlight: number, congestionWindow: number, inSlowStart: boolean): boolean {
    if (priorInFlight + WINDOW_LIMITED_HEADROOM_PACKETS * this.datagramSize >= congestionWindow) return true;
    // In slow start the window doubles per RTT: more than half of it in flight is "limited".
    return inSlowStart && priorInFlight > congestionWindow / 2;
  }

  /** The window after `bytes` were acknowledged while window-limited. */
  grow(congestionWindow: number, bytes: number, inSlowStart: boolean): number {
    // RFC 9002 §7.3.1: slow start grows by the bytes acknowledged.
    if (inSlowStart) return Math.min(congestionWindow + bytes, MAX_CONGESTION_WINDOW_BYTES);
    // RFC 9002 §7.3.3: congestion avoidance grows by one datagram per window acknowledged.
    this.bytesAckedInAvoidance += bytes;
    if (this.bytesAckedInAvoidance < congestionWindow) return congestionWindow;
    this.bytesAckedInAvoidance -= congestionWindow;
    return Math.min(congestionWindow + this.datagramSize, MAX_CONGESTION_WINDOW_BYTES);
  }

  /** A reduction (loss or persistent congestion) starts avoidance afresh. */
  reset(): void {
    this.bytesAckedInAvoidance = 0;
  }
}
