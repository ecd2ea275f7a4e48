import { CREDIT_UPDATE_WINDOW_DIVISOR } from './defaults.js';

/**
 * Credit-based flow control, one instance per direction per stream (the shape of QUIC stream flow
 * control, RFC 9000 section 4.1, with increments instead of absolute limits: frames are numbered,
 * so a lost CREDIT is detected and resets the stream instead of stalling it).
 */

/** Sender side: never more than the granted window of bytes outstanding. */
export class SendCredit {
  private availableBytes: number;
  private sent = 0;
  private returned = 0;

  constructor(readonly windowBytes: number) {
    this.availableBytes = windowBytes;
  }

  /** Takes up to `wantedBytes` of credit; returns how much was taken (0 when the window is used up). */
  take(wantedBytes: number): number {
    const bytes = Math.min(wantedBytes, this.availableBytes);
    this.availableBytes -= bytes;
    this.sent += bytes;
    return bytes;
  }

  /**
   * Applies a CREDIT from the peer. Returns false if the peer returned more than it was sent
   * (a protocol violation: credit is only for bytes the application consumed).
   */
  grant(bytes: number): boolean {
    if (this.returned + bytes > this.sent) return false;
    this.returned += bytes;
    this.availableBytes += bytes;
    return true;
  }

  get available(): number {
    return this.availableBytes;
  }

  get sentBytes(): number {
    return this.sent;
  }

  /** Sent and not yet returned by CREDIT: never above windowBytes. */
  get outstandingBytes(): number {
    return this.sent - this.returned;
  }
}

/** Receiver side: checks the peer stays inside the window; returns credit as the application consumes. */
export class ReceiveWindow {
  private received = 0;
  private consumed = 0;
  private granted = 0;
  private readonly updateThresholdBytes: number;

  constructor(readonly windowBytes: number) {
    this.updateThresholdBytes = Math.max(1, Math.floor(windowBytes / CREDIT_UPDATE_WINDOW_DIVISOR));
  }

  /** Accounts a DATA payload; false if it overruns the window (the peer violated flow control). */
  onData(bytes: number): boolean {
    if (this.received + bytes > this.windowBytes + this.granted) return false;
    this.received += bytes;
    return true;
  }

  /**
   * Called after the application took data; `bufferedBytes` is what it has not read yet.
   * Returns the credit to send now (0: none yet). Credit goes out in batches of at least
   * window / CREDIT_UPDATE_WINDOW_DIVISOR. This cannot stall: a sender's credit is
   * window - buffered - pending, so once the reader has drained its buffer without reaching the
   * threshold the sender still holds more than window - threshold (and senders send partial chunks).
   */
  onConsumed(bufferedBytes: number): number {
    this.consumed = this.received - bufferedBytes;
    const pending = this.consumed - this.granted;
    if (pending < this.updateThresholdBytes) return 0;
    this.granted += pending;
    return pending;
  }

  get receivedBytes(): number {
    return this.received;
  }

  get consumedBytes(): number {
    return this.consumed;
  }

  get grantedBytes(): number {
    return this.granted;
  }

  /** Received and not yet returned by CREDIT: never above windowBytes. */
  get outstandingBytes(): number {
    return this.received - this.granted;
  }
}
