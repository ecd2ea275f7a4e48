import { WINDOW_AUTO_TUNE_RTT_MULTIPLIER, WINDOW_UPDATE_THRESHOLD } from './constants.js';

/**
 * Receive-side flow control for one stream or the whole connection (RFC 9000 §4.1, §4.2).
 * Credit is returned only as the application consumes data, and the window doubles
 * (up to `maxWindow`) when it is consumed within a few RTTs (quic-go's auto-tuning).
 */
export class ReceiveWindow {
  /** Current window size, in bytes. */
  windowSize: number;
  readonly maxWindow: number;
  /** The limit advertised to the peer (max data / max stream data). */
  limit: number;
  /** Highest offset (stream) or sum of highest offsets (connection) received. */
  highestReceived = 0;
  /** Bytes handed to the application (or discarded after a reset). */
  consumed = 0;
  private epochStartTime = -1;
  private epochStartOffset = 0;

  constructor(initialWindow: number, maxWindow: number) {
    this.windowSize = initialWindow;
    this.maxWindow = Math.max(maxWindow, initialWindow);
    this.limit = initialWindow;
  }

  /** Records data up to `newHighest`; returns false if the peer exceeded the limit (RFC 9000 §4.1 FLOW_CONTROL_ERROR). */
  onReceivedUpTo(newHighest: number): boolean {
    if (newHighest > this.highestReceived) this.highestReceived = newHighest;
    return this.highestReceived <= this.limit;
  }

  /** Adds `bytes` to the received total (connection level); returns false on violation. */
  onReceivedBytes(bytes: number): boolean {
    this.highestReceived += bytes;
    return this.highestReceived <= this.limit;
  }

  onConsumed(bytes: number, now: number): void {
    // Start the first auto-tuning epoch with the first byte read (as quic-go does).
    if (this.epochStartTime < 0) this.startEpoch(now);
    this.consumed += bytes;
  }

  /** A window update is due once WINDOW_UPDATE_THRESHOLD of the window has been consumed. */
  get updateDue(): boolean {
    return this.limit - this.consumed <= this.windowSize * (1 - WINDOW_UPDATE_THRESHOLD);
  }

  /** Moves the limit forward (auto-tuning first) and returns the new limit to advertise. */
  nextLimit(now: number, smoothedRttMs: number): number {
    this.autoTune(now, smoothedRttMs);
    const next = this.consumed + this.windowSize;
    if (next > this.limit) this.limit = next;
    return this.limit;
  }

  /** Grows the window to at least `size` (the connection window follows its streams). */
  ensureWindowAtLeast(size: number): void {
    if (size > this.windowSize) this.windowSize = Math.min(size, this.maxWindow);
  }

  private autoTune(now: number, smoothedRttMs: number): void {
    const consumedInEpoch = this.consumed - this.epochStartOffset;
    if (this.epochStartTime < 0 || consumedInEpoch <= this.windowSize / 2 || smoothedRttMs <= 0) return;
    const fraction = consumedInEpoch / this.windowSize;
    if (now - this.epochStartTime < WINDOW_AUTO_TUNE_RTT_MULTIPLIER * fraction * smoothedRttMs) {
      this.windowSize = Math.min(this.windowSize * 2, this.maxWindow);
    }
    this.startEpoch(now);
  }

  private startEpoch(now: number): void {
    this.epochStartTime = now;
    this.epochStartOffset = this.consumed;
  }
}
