/**
 * What the loss detector and the connection need from a congestion controller
 * (RFC 9002 §7, pseudocode in its Appendix B). Times are performance.now() milliseconds.
 * The controller owns bytes_in_flight.
 */
export interface CongestionController {
  /** congestion_window, in bytes */
  readonly congestionWindow: number;
  /** ssthresh, in bytes (Infinity until the first reduction) */
  readonly slowStartThreshold: number;
  /** bytes_in_flight (RFC 9002 §B.2) */
  readonly bytesInFlight: number;
  /** Window reductions so far (loss events the controller reacted to). */
  readonly reductions: number;
  /** Loss events that did not reduce the window (within the loss tolerance). */
  readonly toleratedLossEvents: number;

  onPacketSent(bytes: number): void;
  /** A packet was acknowledged; `priorInFlight` is bytes_in_flight before this ACK (RFC 9002 §7.8). */
  onPacketAcked(bytes: number, timeSent: number, priorInFlight: number, now: number): void;
  /** An in-flight packet was declared lost: it leaves bytes_in_flight (RFC 9002 §B.8). */
  onPacketLost(bytes: number): void;
  /** A packet declared lost was acknowledged after all: it was reordered, not lost (RFC 9002 §6.1). */
  onSpuriousLoss(bytes: number): void;
  /** An in-flight packet was forgotten without being acked or lost (connection closing). */
  onPacketDiscarded(bytes: number): void;
  /** Packets were declared lost, the latest of them sent at `timeSent` (RFC 9002 §B.6 OnCongestionEvent). */
  onCongestionEvent(timeSent: number, now: number): void;
  /** Persistent congestion (RFC 9002 §7.6.2): collapse to the minimum window. */
  onPersistentCongestion(): void;
  /**
   * The datagram size changed (path MTU discovery): growth steps and the minimum window
   * follow it; the window itself is kept in bytes (RFC 9002 §7.2 speaks of recomputing only
   * the initial window, which is past).
   */
  setMaxDatagramSize(bytes: number): void;
}

/** Which congestion controller a connection uses. */
export type CongestionControlAlgorithm = 'loss-tolerant' | 'new-reno';
