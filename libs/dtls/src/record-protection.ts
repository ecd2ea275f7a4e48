import { MAX_RECORD_SEQUENCE } from './constants.js';
import { DTLS_1_2_VERSION, encodeRecord, type ContentType, type DtlsRecord } from './record.js';

/** werift's AEAD cipher (AES-128-GCM here), keyed by the completed handshake. */
export interface AeadCipher {
  encrypt(side: 1 | 2, data: Buffer, header: AeadHeader): Buffer;
  decrypt(side: 1 | 2, data: Buffer, header: AeadHeader): Buffer;
}

export interface AeadHeader {
  type: number;
  version: number;
  epoch: number;
  sequenceNumber: number;
}

/** The record counter of the epoch; shared with werift so that nothing reuses a number. */
export interface RecordCounter {
  recordSequenceNumber: number;
}

/** werift's session type for the server side. */
const SERVER_SIDE = 2;

/**
 * Protects and opens the epoch-1 records of one hub session with werift's keys.
 * The explicit nonce is epoch|sequence (RFC 5288 §3), so each sequence number is used once:
 * the counter continues from werift's Finished (record 0, patched) and only grows.
 */
export class RecordProtection {
  constructor(
    private readonly aead: AeadCipher,
    private readonly counter: RecordCounter,
    private readonly epoch: number,
  ) {}

  /** Seals a record of the current epoch; null once the 48-bit sequence space is used up. */
  seal(type: ContentType, plaintext: Buffer): Buffer | null {
    if (this.counter.recordSequenceNumber >= MAX_RECORD_SEQUENCE) return null;
    this.counter.recordSequenceNumber += 1;
    const sequenceNumber = this.counter.recordSequenceNumber;
    const header = { type, version: DTLS_1_2_VERSION, epoch: this.epoch, sequenceNumber };
    const fragment = this.aead.encrypt(SERVER_SIDE, plaintext, header);
    return encodeRecord(type, DTLS_1_2_VERSION, this.epoch, sequenceNumber, fragment);
  }

  /** Opens a record of the current epoch; null when it does not authenticate. */
  open(record: DtlsRecord): Buffer | null {
    if (record.epoch !== this.epoch) return null;
    try {
      return this.aead.decrypt(SERVER_SIDE, record.fragment, {
        type: record.type,
        version: record.version,
        epoch: record.epoch,
        sequenceNumber: record.sequence,
      });
    } catch {
      return null;
    }
  }
}
