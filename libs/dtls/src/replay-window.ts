import { REPLAY_WINDOW_RECORDS } from './constants.js';

/**
 * Anti-replay window anchored at the highest authenticated record number
 * (RFC 6347 §4.1.2.6, the RFC 4303 §3.4.3 bitmap). A newer record, however far ahead,
 * is accepted and slides the window; duplicates and records older than the window drop.
 * Call `check` before decrypting and `accept` only after the record authenticated.
 */
export class ReplayWindow {
  private highest = -1;
  /** Bit i set: record (highest - i) was received. */
  private bitmap = 0n;
  private readonly size: number;
  private readonly mask: bigint;

  constructor(size: number = REPLAY_WINDOW_RECORDS) {
    this.size = size;
    this.mask = (1n << BigInt(size)) - 1n;
  }

  /** True when `sequence` is neither a duplicate nor older than the window. */
  check(sequence: number): boolean {
    if (sequence > this.highest) return true;
    const offset = this.highest - sequence;
    if (offset >= this.size) return false;
    return (this.bitmap & (1n << BigInt(offset))) === 0n;
  }

  /** Marks an authenticated record as received; false for a replay. */
  accept(sequence: number): boolean {
    if (!this.check(sequence)) return false;
    if (sequence > this.highest) {
      const shift = sequence - this.highest;
      this.bitmap = shift >= this.size ? 1n : ((this.bitmap << BigInt(shift)) | 1n) & this.mask;
      this.highest = sequence;
    } else {
      this.bitmap |= 1n << BigInt(this.highest - sequence);
    }
    return true;
  }
}
