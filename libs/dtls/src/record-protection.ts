import type { AesGcmRecordCipher, SealedRecord } from './aes-gcm-record-cipher.js';
import { MAX_RECORD_SEQUENCE } from './constants.js';
import { DTLS_1_2_VERSION, type ContentType, type DtlsRecord } from './record.js';

/** werift's AEAD cipher (AES-128-GCM here) after the handshake: the key block's keys (RFC 5246 §6.3). */
export interface WeriftAeadKeys {
  clientWriteKey?: Buffer;
  serverWriteKey?: Buffer;
  /** client_write_IV in its first 4 bytes (the implicit nonce, RFC 5288 §3). */
  clientNonce?: Buffer;
  serverNonce?: Buffer;
}

/** The record counter of the epoch; shared with werift so that nothing reuses a number. */
export interface RecordCounter {
  recordSequenceNumber: number;
}

/**
 * Protects and opens the epoch-1 records of one hub session with the keys werift negotiated.
 * The explicit nonce is epoch|sequence (RFC 5288 §3), so each sequence number is used once:
 * the counter continues from werift's Finished (record 0, patched) and only grows. It is
 * werift's own counter while werift may still resend its final flight; `detachCounter` takes
 * it over once werift is done, so the session no longer holds werift's state.
 */
export class RecordProtection {
  constructor(
    private readonly cipher: AesGcmRecordCipher,
    private counter: RecordCounter,
    private readonly epoch: number,
  ) {}

  /** Continues with a counter of its own, from where the shared one stands (werift sends nothing more). */
  detachCounter(): void {
    this.counter = { recordSequenceNumber: this.counter.recordSequenceNumber };
  }

  /** Seals a record of the current epoch (as its parts); null once the 48-bit sequence space is used up. */
  seal(type: ContentType, plaintext: Uint8Array): SealedRecord | null {
    if (this.counter.recordSequenceNumber >= MAX_RECORD_SEQUENCE) return null;
    this.counter.recordSequenceNumber += 1;
    return this.cipher.sealParts(type, DTLS_1_2_VERSION, this.epoch, this.counter.recordSequenceNumber, plaintext);
  }

  /** Opens a record of the current epoch; null when it does not authenticate. */
  open(record: DtlsRecord): Buffer | null {
    if (record.epoch !== this.epoch) return null;
    return this.cipher.open(record.type, record.version, record.bytes, record.fragment);
  }
}
