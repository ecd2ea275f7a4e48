import type { NodertcRecordLayer } from '@nodertc/dtls';
import { AesGcmRecordCipher, type SealedRecord } from './aes-gcm-record-cipher.js';
import { GCM_EXPLICIT_NONCE_BYTES, GCM_TAG_BYTES, MAX_RECORD_SEQUENCE, RECORD_HEADER_BYTES } from './constants.js';
import { ContentType } from './record.js';

/** Why `open` did not return a plaintext. */
export const RecordRefusal = {
  /** Not one application_data record of the current epoch: the stream pipeline handles it. */
  Declined: 'declined',
  /** A duplicate or a record older than the replay window (RFC 6347 §4.1.2.6). */
  Replay: 'replay',
  /** The AEAD tag did not verify (RFC 6347 §4.1.2.7: silently discarded). */
  Auth: 'auth',
} as const;
export type RecordRefusal = (typeof RecordRefusal)[keyof typeof RecordRefusal];

const SMALLEST_PROTECTED_RECORD_BYTES = RECORD_HEADER_BYTES + GCM_EXPLICIT_NONCE_BYTES + GCM_TAG_BYTES;

/**
 * The agent's application records without the stream pipeline of @nodertc/dtls: the links
 * send one record per datagram, so a datagram that is exactly one application_data record of
 * the current epoch is checked against the session's replay window, opened with its keys and
 * handed to the link; anything else (alerts, handshake retransmissions, several records) is
 * declined and takes the library's own path. Outgoing records take the session's next record
 * number, so both paths share one counter and one window.
 */
export class ClientRecordPath {
  private readonly cipher: AesGcmRecordCipher;

  constructor(private readonly layer: NodertcRecordLayer) {
    // The client writes with the client's keys and reads with the server's (RFC 5246 §6.3).
    this.cipher = new AesGcmRecordCipher(
      { key: layer.clientWriteKey, iv: layer.clientNonce },
      { key: layer.serverWriteKey, iv: layer.serverNonce },
    );
  }

  /** The whole record for one application datagram (as its parts); null once the 48-bit sequence space is used up. */
  seal(plaintext: Uint8Array): SealedRecord | null {
    const sequence = this.layer.nextRecordNumber();
    if (sequence > MAX_RECORD_SEQUENCE) return null;
    return this.cipher.sealParts(ContentType.ApplicationData, this.layer.version, this.layer.writeEpoch(), sequence, plaintext);
  }

  /** The plaintext of a datagram that is one current application record, or why not. */
  open(datagram: Buffer): Buffer | RecordRefusal {
    if (datagram.length < SMALLEST_PROTECTED_RECORD_BYTES || datagram[0] !== ContentType.ApplicationData) return RecordRefusal.Declined;
    const version = datagram.readUInt16BE(1);
    if (version !== this.layer.version || datagram.readUInt16BE(3) !== this.layer.readEpoch()) return RecordRefusal.Declined;
    if (RECORD_HEADER_BYTES + datagram.readUInt16BE(11) !== datagram.length) return RecordRefusal.Declined;
    const sequence = datagram.readUIntBE(5, 6);
    // RFC 6347 §4.1.2.6: check the window first, update it only once the record authenticated.
    if (!this.layer.window.check(sequence)) return RecordRefusal.Replay;
    const plaintext = this.cipher.open(ContentType.ApplicationData, version, datagram, datagram.subarray(RECORD_HEADER_BYTES));
    if (plaintext === null) return RecordRefusal.Auth;
    this.layer.window.accept(sequence);
    this.layer.received();
    return plaintext;
  }
}
