import { INITIAL_RTT_MS, MAX_ACK_DELAY_MS, MAX_PROBE_TIMEOUT_MS, TIMER_GRANULARITY_MS } from './constants.js';

/** Round-trip time estimation (RFC 9002 §5). All values in milliseconds. */
export class RttEstimator {
  /** latest_rtt (RFC 9002 §5.1) */
  latestRtt = 0;
  /** min_rtt (RFC 9002 §5.2) */
  minRtt = 0;
  /** smoothed_rtt (RFC 9002 §5.3), kInitialRtt before the first sample (§6.2.2) */
  smoothedRtt = INITIAL_RTT_MS;
  /** rttvar (RFC 9002 §5.3) */
  rttVar = INITIAL_RTT_MS / 2;
  hasSample = false;

  /** Takes one RTT sample; `ackDelayMs` is the peer's reported delay (RFC 9002 §5.3). */
  update(sampleMs: number, ackDelayMs: number): void {
    this.latestRtt = sampleMs;
    if (!this.hasSample) {
      // RFC 9002 §5.3: the first sample initialises the estimator.
      this.hasSample = true;
      this.minRtt = sampleMs;
      this.smoothedRtt = sampleMs;
      this.rttVar = sampleMs / 2;
      return;
    }
    // RFC 9002 §5.2: min_rtt ignores the ack delay.
    if (sampleMs < this.minRtt) this.minRtt = sampleMs;
    // RFC 9002 §5.3: ack delay is limited to max_ack_delay and never takes the sample below min_rtt.
    const ackDelay = Math.min(ackDelayMs, MAX_ACK_DELAY_MS);
    const adjusted = sampleMs >= this.minRtt + ackDelay ? sampleMs - ackDelay : sampleMs;
    this.rttVar = 0.75 * this.rttVar + 0.25 * Math.abs(this.smoothedRtt - adjusted);
    this.smoothedRtt = 0.875 * this.smoothedRtt + 0.125 * adjusted;
  }

  /** Loss delay for the time threshold: max(9/8 * max(smoothed, latest), granularity) (RFC 9002 §6.1.2). */
  lossDelay(timeThreshold: number): number {
    return Math.max(timeThreshold * Math.max(this.smoothedRtt, this.latestRtt), TIMER_GRANULARITY_MS);
  }

  /**
   * Probe timeout before backoff: smoothed_rtt + max(4 * rttvar, kGranularity) + max_ack_delay
   * (RFC 9002 §6.2.1). The ack delay is left out when the packet asked for an immediate ACK
   * (draft-ietf-quic-ack-frequency IMMEDIATE_ACK): the peer will not delay it.
   */
  probeTimeout(includeAckDelay = true): number {
    return this.smoothedRtt + Math.max(4 * this.rttVar, TIMER_GRANULARITY_MS) + (includeAckDelay ? MAX_ACK_DELAY_MS : 0);
  }

  /** Probe timeout after `ptoCount` expirations, doubled each time (RFC 9002 §6.2.1), capped. */
  backedOffProbeTimeout(ptoCount: number, includeAckDelay = true): number {
    return Math.min(this.probeTimeout(includeAckDelay) * 2 ** Math.min(ptoCount, 30), MAX_PROBE_TIMEOUT_MS);
  }
}
