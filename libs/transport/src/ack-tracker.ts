import {
  ACK_ELICITING_PACKETS_BEFORE_ACK,
  MAX_ACK_DELAY_MS,
  MAX_ACK_RANGES,
  MAX_TRACKED_RECEIVED_RANGES,
} from './constants.js';
import { RangeSet } from './range-set.js';

/**
 * Received packet numbers and when to acknowledge them (RFC 9000 §13.2).
 * Times are performance.now() milliseconds.
 */
export class AckTracker {
  private readonly received = new RangeSet();
  /** Packets below this are treated as duplicates (their ranges were forgotten). */
  private ignoreBelow = 0;
  private largestReceived = -1;
  private largestReceivedTime = 0;
  private ackElicitingSinceAck = 0;
  private newSinceAck = false;
  /** An ACK must go out in the next packet (RFC 9000 §13.2.1). */
  private ackImmediately = false;
  /** When a delayed ACK is due (max_ack_delay after the first unacknowledged ack-eliciting packet). */
  ackDeadline = Infinity;
  /** Flat [largest, smallest] pairs of the ACK being built, largest first. */
  readonly ranges: number[] = [];

  isDuplicate(packetNumber: number): boolean {
    return packetNumber < this.ignoreBelow || this.received.has(packetNumber);
  }

  /** IMMEDIATE_ACK received (draft-ietf-quic-ack-frequency §5): acknowledge in the next packet. */
  requestImmediateAck(): void {
    this.ackImmediately = true;
  }

  onPacketReceived(packetNumber: number, ackEliciting: boolean, now: number): void {
    const largest = this.largestReceived;
    // RFC 9000 §13.2.1: a packet below the largest, or one that leaves a gap, is acked at once.
    const outOfOrder = largest >= 0 && (packetNumber < largest || packetNumber > largest + 1);
    this.received.add(packetNumber, packetNumber + 1);
    if (this.received.rangeCount > MAX_TRACKED_RECEIVED_RANGES) {
      // RFC 9000 §13.2.3: a receiver may forget old ranges; later copies count as duplicates.
      this.received.keepHighest(MAX_TRACKED_RECEIVED_RANGES);
      this.ignoreBelow = this.received.min;
    }
    if (packetNumber > largest) {
      this.largestReceived = packetNumber;
      this.largestReceivedTime = now;
    }
    this.newSinceAck = true;
    if (!ackEliciting) return;
    this.ackElicitingSinceAck++;
    // RFC 9000 §13.2.2: acknowledge after a few ack-eliciting packets, or within max_ack_delay.
    if (outOfOrder || this.ackElicitingSinceAck >= ACK_ELICITING_PACKETS_BEFORE_ACK) this.ackImmediately = true;
    else if (this.ackDeadline === Infinity) this.ackDeadline = now + MAX_ACK_DELAY_MS;
  }

  /** Something arrived since the last ACK was sent (worth piggybacking on a packet we send anyway). */
  get hasNewInfo(): boolean {
    return this.newSinceAck;
  }

  /** An ACK is owed now: immediately, or its delay timer expired. */
  mustSendAck(now: number): boolean {
    return this.newSinceAck && (this.ackImmediately || this.ackDeadline <= now);
  }

  /** Fills `ranges` for an ACK frame and returns the number of ranges (0: nothing to ack). */
  buildRanges(): number {
    const ranges = this.ranges;
    ranges.length = 0;
    const count = Math.min(this.received.rangeCount, MAX_ACK_RANGES);
    const last = this.received.rangeCount - 1;
    for (let i = 0; i < count; i++) {
      ranges.push(this.received.endAt(last - i) - 1, this.received.startAt(last - i));
    }
    return count;
  }

  /** Delay since the largest packet arrived (RFC 9000 §19.3 ACK Delay), in microseconds. */
  ackDelayUs(now: number): number {
    return Math.max(0, Math.round((now - this.largestReceivedTime) * 1000));
  }

  /** An ACK frame went out. */
  onAckSent(): void {
    this.newSinceAck = false;
    this.ackImmediately = false;
    this.ackElicitingSinceAck = 0;
    this.ackDeadline = Infinity;
  }

  /**
   * A packet carrying our ACK with Largest Acknowledged `largestAcked` was acknowledged:
   * the peer knows everything up to it, so those ranges need not be sent again (RFC 9000 §13.2.4).
   */
  onAckAcknowledged(largestAcked: number): void {
    if (largestAcked + 1 <= this.ignoreBelow) return;
    this.ignoreBelow = largestAcked + 1;
    this.received.removeBelow(this.ignoreBelow);
  }
}
