import type { CongestionController } from './congestion-controller.js';
import {
  MAX_TRACKED_LOST_PACKETS,
  PACKET_THRESHOLD,
  PERSISTENT_CONGESTION_THRESHOLD,
  TIME_THRESHOLD_RTT_MULTIPLIER,
} from './constants.js';
import type { AckFrame } from './frames.js';
import type { RttEstimator } from './rtt-estimator.js';
import type { SentPacket } from './sent-packet.js';

/** Where the loss detector reports the fate of packets (their frames are the caller's business). */
export interface PacketFateHandler {
  onPacketAcked(packet: SentPacket): void;
  onPacketLost(packet: SentPacket): void;
}

/** Leading empty slots tolerated before the packet array is compacted. */
const COMPACT_AFTER_SLOTS = 1024;

/**
 * Sent-packet history and loss detection (RFC 9002 §6, pseudocode in its Appendix A).
 * Packet numbers are dense (each sent packet takes the next one), so the history is an
 * array indexed by packet number with holes for packets already acked or lost.
 */
export class LossDetector {
  private readonly rtt: RttEstimator;
  private readonly cc: CongestionController;
  private readonly fate: PacketFateHandler;
  private packets: (SentPacket | null)[] = [];
  /** Packet number of packets[0]. */
  private baseNumber = 0;
  /** Index of the first non-null slot (or packets.length). */
  private firstLive = 0;
  private readonly ackedScratch: SentPacket[] = [];
  private readonly lostScratch: SentPacket[] = [];
  private timeOfFirstRttSample = Infinity;
  /** The last packets declared lost (packet number order), to notice when one is acknowledged after all. */
  private readonly recentlyLost = new RecentlyLost(MAX_TRACKED_LOST_PACKETS);

  /** Next packet number to use (RFC 9000 §12.3: never reused). */
  nextPacketNumber = 0;
  /** largest_acked_packet (RFC 9002 §A.3), -1 before any ACK. */
  largestAcked = -1;
  /** loss_time (RFC 9002 §A.3): Infinity when no packet awaits the time threshold. */
  lossTime = Infinity;
  /** time_of_last_ack_eliciting_packet (RFC 9002 §A.3). */
  timeOfLastAckEliciting = -Infinity;
  /** The last ack-eliciting packet carried IMMEDIATE_ACK (its ACK will not be delayed). */
  private lastAckElicitingImmediate = false;
  /** pto_count (RFC 9002 §A.3). */
  ptoCount = 0;
  /** Ack-eliciting packets neither acked nor declared lost. */
  ackElicitingInFlight = 0;
  /** In-flight packets declared lost, in total. */
  packetsLost = 0;
  /** Packets declared lost and acknowledged later: reordered beyond the thresholds (RFC 9002 §6.1). */
  spuriousLosses = 0;

  constructor(rtt: RttEstimator, cc: CongestionController, fate: PacketFateHandler) {
    this.rtt = rtt;
    this.cc = cc;
    this.fate = fate;
  }

  /** Records a sent packet (RFC 9002 §A.5 OnPacketSent). */
  onPacketSent(packet: SentPacket): void {
    this.nextPacketNumber = packet.packetNumber + 1;
    this.packets.push(packet);
    if (packet.inFlight) this.cc.onPacketSent(packet.size);
    if (packet.ackEliciting) {
      this.ackElicitingInFlight++;
      this.timeOfLastAckEliciting = packet.timeSent;
      this.lastAckElicitingImmediate = packet.immediateAck;
    }
  }

  /**
   * Processes an ACK frame (RFC 9002 §A.7 OnAckReceived). Returns false if it acknowledges
   * a packet number never sent (RFC 9000 §13.1: PROTOCOL_VIOLATION).
   */
  onAckReceived(ack: AckFrame, now: number): boolean {
    if (ack.largestAcknowledged >= this.nextPacketNumber) return false;
    const acked = this.ackedScratch;
    acked.length = 0;
    const priorInFlight = this.cc.bytesInFlight;
    let largestNewlyAcked: SentPacket | null = null;
    let newlyAckedAckEliciting = false;
    const lowestLive = this.baseNumber + this.firstLive;
    const ranges = ack.ranges;
    for (let i = 0; i < ranges.length; i += 2) {
      const high = ranges[i] as number;
      const low = Math.max(ranges[i + 1] as number, lowestLive);
      for (let pn = high; pn >= low; pn--) {
        const index = pn - this.baseNumber;
        const packet = this.packets[index];
        if (!packet) continue;
        this.packets[index] = null;
        acked.push(packet);
        if (packet.ackEliciting) newlyAckedAckEliciting = true;
        if (pn === ack.largestAcknowledged) largestNewlyAcked = packet;
      }
    }
    if (this.recentlyLost.size > 0) this.detectSpuriousLosses(ranges);
    if (acked.length === 0) return true;
    if (ack.largestAcknowledged > this.largestAcked) this.largestAcked = ack.largestAcknowledged;
    // RFC 9002 §5.1: an RTT sample needs the largest acknowledged newly acked and ack-eliciting news.
    if (largestNewlyAcked !== null && newlyAckedAckEliciting) {
      if (!this.rtt.hasSample) this.timeOfFirstRttSample = now;
      this.rtt.update(now - largestNewlyAcked.timeSent, ack.ackDelayUs / 1000);
    }
    this.detectAndRemoveLostPackets(now);
    for (const packet of acked) {
      if (packet.inFlight) this.cc.onPacketAcked(packet.size, packet.timeSent, priorInFlight, now);
      if (packet.ackEliciting) this.ackElicitingInFlight--;
      this.fate.onPacketAcked(packet);
    }
    acked.length = 0;
    // RFC 9002 §6.2.1: the PTO backoff resets when an acknowledgement arrives.
    this.ptoCount = 0;
    this.advanceFirstLive();
    return true;
  }

  /** The loss-detection timer's deadline (RFC 9002 §A.8 SetLossDetectionTimer), or Infinity. */
  deadline(): number {
    if (this.lossTime !== Infinity) return this.lossTime;
    if (this.ackElicitingInFlight === 0) return Infinity;
    return this.timeOfLastAckEliciting + this.rtt.backedOffProbeTimeout(this.ptoCount, !this.lastAckElicitingImmediate);
  }

  /**
   * The timer fired (RFC 9002 §A.9 OnLossDetectionTimeout). Returns true when the caller
   * must send probe packets (a probe timeout), false after time-threshold loss detection.
   */
  onTimeout(now: number): boolean {
    if (this.lossTime !== Infinity) {
      if (this.lossTime <= now) this.detectAndRemoveLostPackets(now);
      return false;
    }
    if (this.deadline() > now) return false;
    this.ptoCount++;
    return true;
  }

  /** The oldest unacknowledged ack-eliciting packets, to resend their frames in probes (RFC 9002 §6.2.4). */
  oldestAckEliciting(max: number, out: SentPacket[]): void {
    out.length = 0;
    for (let i = this.firstLive; i < this.packets.length && out.length < max; i++) {
      const packet = this.packets[i];
      if (packet && packet.ackEliciting) out.push(packet);
    }
  }

  /** Forgets every packet (connection closed). */
  clear(): void {
    for (const packet of this.packets) if (packet?.inFlight) this.cc.onPacketDiscarded(packet.size);
    this.packets = [];
    this.firstLive = 0;
    this.ackElicitingInFlight = 0;
    this.lossTime = Infinity;
  }

  /** RFC 9002 §A.10 DetectAndRemoveLostPackets, then §A.11 OnPacketsLost. */
  private detectAndRemoveLostPackets(now: number): void {
    this.lossTime = Infinity;
    if (this.largestAcked < 0) return;
    const lossDelay = this.rtt.lossDelay(TIME_THRESHOLD_RTT_MULTIPLIER);
    const lostSendTime = now - lossDelay;
    const lost = this.lostScratch;
    lost.length = 0;
    const end = Math.min(this.largestAcked - this.baseNumber, this.packets.length - 1);
    for (let index = this.firstLive; index <= end; index++) {
      const packet = this.packets[index];
      if (!packet) continue;
      // RFC 9002 §6.1: lost by packet threshold (§6.1.1) or time threshold (§6.1.2).
      if (packet.timeSent <= lostSendTime || this.largestAcked >= packet.packetNumber + PACKET_THRESHOLD) {
        this.packets[index] = null;
        lost.push(packet);
      } else {
        const when = packet.timeSent + lossDelay;
        if (when < this.lossTime) this.lossTime = when;
      }
    }
    if (lost.length > 0) this.onPacketsLost(lost, now);
    lost.length = 0;
    this.advanceFirstLive();
  }

  private onPacketsLost(lost: SentPacket[], now: number): void {
    let latestLostTimeSent = -Infinity;
    for (const packet of lost) {
      if (packet.inFlight) {
        this.cc.onPacketLost(packet.size);
        this.recentlyLost.add(packet.packetNumber, packet.size);
        this.packetsLost++;
        if (packet.timeSent > latestLostTimeSent) latestLostTimeSent = packet.timeSent;
      }
      if (packet.ackEliciting) this.ackElicitingInFlight--;
      this.fate.onPacketLost(packet);
    }
    if (latestLostTimeSent === -Infinity) return;
    // RFC 9002 §7.3.2: a loss starts a recovery period (once per round trip).
    this.cc.onCongestionEvent(latestLostTimeSent, now);
    if (this.inPersistentCongestion(lost)) this.cc.onPersistentCongestion();
  }

  /** Lost packets that this ACK acknowledges after all arrived late, not lost (RFC 9002 §6.1: reordering). */
  private detectSpuriousLosses(ranges: readonly number[]): void {
    for (let i = 0; i < ranges.length; i += 2) {
      this.recentlyLost.takeRange(ranges[i + 1] as number, ranges[i] as number, this.onSpuriousLoss);
    }
  }

  private readonly onSpuriousLoss = (size: number): void => {
    this.spuriousLosses++;
    this.cc.onSpuriousLoss(size);
  };

  /**
   * RFC 9002 §7.6.2, simplified: a run of consecutive packet numbers, all lost in this
   * batch (so none between them was acknowledged), sent after the first RTT sample and
   * spanning more than the persistent-congestion duration.
   */
  private inPersistentCongestion(lost: SentPacket[]): boolean {
    if (!this.rtt.hasSample) return false;
    const duration = this.rtt.probeTimeout() * PERSISTENT_CONGESTION_THRESHOLD;
    let runStart: SentPacket | null = null;
    let previous: SentPacket | null = null;
    for (const packet of lost) {
      if (!packet.ackEliciting || packet.timeSent < this.timeOfFirstRttSample) {
        runStart = null;
        previous = null;
        continue;
      }
      if (previous === null || packet.packetNumber !== previous.packetNumber + 1) runStart = packet;
      previous = packet;
      if (runStart !== null && packet.timeSent - runStart.timeSent > duration) return true;
    }
    return false;
  }

  private advanceFirstLive(): void {
    const packets = this.packets;
    let first = this.firstLive;
    while (first < packets.length && packets[first] === null) first++;
    this.firstLive = first;
    if (first >= COMPACT_AFTER_SLOTS && first * 2 >= packets.length) {
      this.packets = packets.slice(first);
      this.baseNumber += first;
      this.firstLive = 0;
    }
  }
}

/**
 * A bounded history of lost packets, in packet-number order (losses are declared in that
 * order: both thresholds of RFC 9002 §6.1 are monotonic in the packet number). The oldest
 * entries are forgotten first.
 */
class RecentlyLost {
  private readonly numbers: number[] = [];
  private readonly sizes: number[] = [];
  private head = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.numbers.length - this.head;
  }

  add(packetNumber: number, size: number): void {
    this.numbers.push(packetNumber);
    this.sizes.push(size);
    if (this.size > this.capacity) this.head++;
    if (this.head >= this.capacity) {
      this.numbers.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Calls `found` with the size of each remembered packet in [low, high] and forgets it. */
  takeRange(low: number, high: number, found: (size: number) => void): void {
    const numbers = this.numbers;
    let lo = this.head;
    let hi = numbers.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((numbers[mid] as number) < low) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < numbers.length && (numbers[i] as number) <= high; i++) {
      const size = this.sizes[i] as number;
      if (size === 0) continue;
      this.sizes[i] = 0;
      found(size);
    }
  }
}
