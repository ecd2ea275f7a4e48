import {
  MAX_HANDSHAKE_FRAGMENT_BYTES_PER_PEER,
  MAX_HANDSHAKE_FRAGMENTS_PER_PEER,
  MAX_HANDSHAKE_RECORDS_PER_PEER,
} from './constants.js';
import { isPartialFragment, type HandshakeFragmentHeader } from './handshake-fragment.js';

/** The caps of one pending handshake; defaults are the MAX_HANDSHAKE_*_PER_PEER constants. */
export interface HandshakeBudgetLimits {
  records: number;
  fragments: number;
  fragmentBytes: number;
}

const DEFAULT_LIMITS: HandshakeBudgetLimits = {
  records: MAX_HANDSHAKE_RECORDS_PER_PEER,
  fragments: MAX_HANDSHAKE_FRAGMENTS_PER_PEER,
  fragmentBytes: MAX_HANDSHAKE_FRAGMENT_BYTES_PER_PEER,
};

/**
 * What one pending handshake may hand to werift: records in all, and records and bytes of
 * partial handshake messages, which werift buffers without a bound of its own until the
 * message is whole. The counts only grow, so they also bound werift's buffer: it never holds
 * more than was charged here. Once a charge is refused the budget stays exhausted.
 */
export class HandshakeBudget {
  private records = 0;
  private fragments = 0;
  private fragmentBytes = 0;
  private exhausted = false;

  constructor(private readonly limits: HandshakeBudgetLimits = DEFAULT_LIMITS) {}

  /** Charges one record and its handshake fragments (none for ChangeCipherSpec or an encrypted record); false when a cap is passed. */
  charge(fragments: readonly HandshakeFragmentHeader[] = []): boolean {
    if (this.exhausted) return false;
    this.records += 1;
    for (const fragment of fragments) {
      if (!isPartialFragment(fragment)) continue;
      this.fragments += 1;
      this.fragmentBytes += fragment.fragmentLength;
    }
    this.exhausted =
      this.records > this.limits.records || this.fragments > this.limits.fragments || this.fragmentBytes > this.limits.fragmentBytes;
    return !this.exhausted;
  }
}
