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
  /** Every packet number received at or above `ignoreBelow`: duplicate detection. */
  private readonly received = new RangeSet();
  /**
   * Received packet numbers the peer is not yet known to have learned of: the ranges ACK
   * frames report. A range leaves only when a packet carrying an ACK frame that reported
   * it is acknowledged (RFC 9000 §13.2.4), never because a later ACK's range was.
   */
  private readonly unconfirmed = new RangeSet();
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
    this.unconfirmed.add(packetNumber, packetNumber + 1);
    if (this.received.rangeCount > MAX_TRACKED_RECEIVED_RANGES) {
      // RFC 9000 §13.2.3: a receiver may forget old ranges; later copies count as duplicates.
      this.received.keepHighest(MAX_TRACKED_RECEIVED_RANGES);
      this.forgetBelow(this.received.min);
    }
    // Confirmed pieces can split the unconfirmed set finer than `received`: bound it too, the
    // oldest unreported ranges go first (the peer then repairs them as lost: §13.2.3).
    if (this.unconfirmed.rangeCount > MAX_TRACKED_RECEIVED_RANGES) this.unconfirmed.keepHighest(MAX_TRACKED_RECEIVED_RANGES);
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

  /**
   * Fills `ranges` for an ACK frame with the highest unconfirmed ranges and returns their
   * number (0: nothing to ack). Lower ranges left out are reported once the higher ones are
   * confirmed (RFC 9000 §13.2.3: the receiver limits the ranges of one frame).
   */
  buildRanges(): number {
    const ranges = this.ranges;
    ranges.length = 0;
    const set = this.unconfirmed;
    const count = Math.min(set.rangeCount, MAX_ACK_RANGES);
    const last = set.rangeCount - 1;
    for (let i = 0; i < count; i++) ranges.push(set.endAt(last - i) - 1, set.startAt(last - i));
    return count;
  }

  /**
   * Delay since the frame's Largest Acknowledged arrived (RFC 9000 §19.3 ACK Delay), in
   * microseconds. Only the largest packet's arrival is timed; a frame led by a lower packet
   * (the higher ones confirmed already) was sent at once for a packet out of order (§13.2.1).
   */
  ackDelayUs(now: number): number {
    if (this.ranges[0] !== this.largestReceived) return 0;
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
   * A packet carrying our ACK frame with these ranges (flat [largest, smallest] pairs) was
   * acknowledged: the peer knows those packets, so they need not be reported again
   * (RFC 9000 §13.2.4). Only the ranges that frame carried are dropped: packets below them
   * that it left out, or that arrived after it was sent, are still reported.
   */
  onAckAcknowledged(ranges: readonly number[]): void {
    for (let i = 0; i < ranges.length; i += 2) {
      this.unconfirmed.remove(ranges[i + 1] as number, (ranges[i] as number) + 1);
    }
    // Below the lowest unconfirmed packet (and the highest confirmed one) the peer knows all
    // that arrived; late copies of packets there count as duplicates (§13.2.3).
    const confirmedEnd = (ranges[0] as number) + 1;
    this.forgetBelow(this.unconfirmed.isEmpty ? confirmedEnd : Math.min(this.unconfirmed.min, confirmedEnd));
  }

  private forgetBelow(packetNumber: number): void {
    if (packetNumber <= this.ignoreBelow) return;
    this.ignoreBelow = packetNumber;
    this.received.removeBelow(packetNumber);
    this.unconfirmed.removeBelow(packetNumber);
  }
}
