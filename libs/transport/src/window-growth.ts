import { MAX_CONGESTION_WINDOW_BYTES } from './constants.js';

/**
 * Datagrams of headroom under which a window still counts as the limit: less than this much
 * room left means the sender was window-limited (RFC 9002 §7.8).
 */
export const WINDOW_LIMITED_HEADROOM_PACKETS = 3;

/**
 * The growth rules both congestion controllers share (RFC 9002 §7.3.1, §7.3.3, §7.8): they
 * differ only in how they react to loss. Holds the bytes acknowledged in congestion
 * avoidance that have not yet become a datagram of window.
 */
export class WindowGrowth {
  private bytesAckedInAvoidance = 0;

  constructor(private maxDatagramSize: number) {}

  /** The path's datagram size changed (path MTU discovery): growth steps follow it. */
  setMaxDatagramSize(bytes: number): void {
    this.maxDatagramSize = bytes;
  }

  /** RFC 9002 §7.8: whether the window, not the application or flow control, limited sending. */
  wasWindowLimited(priorInFlight: number, congestionWindow: number, inSlowStart: boolean): boolean {
    if (priorInFlight + WINDOW_LIMITED_HEADROOM_PACKETS * this.maxDatagramSize >= congestionWindow) return true;
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
    return Math.min(congestionWindow + this.maxDatagramSize, MAX_CONGESTION_WINDOW_BYTES);
  }

  /** A reduction (loss or persistent congestion) starts avoidance afresh. */
  reset(): void {
    this.bytesAckedInAvoidance = 0;
  }
}
