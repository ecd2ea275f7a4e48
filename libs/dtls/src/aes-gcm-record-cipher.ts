import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import {
  AES_128_KEY_BYTES,
  GCM_EXPLICIT_NONCE_BYTES,
  GCM_IMPLICIT_NONCE_BYTES,
  GCM_TAG_BYTES,
  RECORD_HEADER_BYTES,
} from './constants.js';
import { defaultRecordCrypto, type NativeAesGcm, type NativeGcmContext, type RecordCryptoBackend } from './native-aes-gcm.js';

/** One direction's key material from the key block (RFC 5246 §6.3). */
export interface GcmDirectionKeys {
  /** client_write_key or server_write_key, 16 bytes. */
  key: Buffer;
  /** client_write_IV or server_write_IV: the first 4 bytes are the implicit nonce (RFC 5288 §3). */
  iv: Buffer;
}

const ALGORITHM = 'aes-128-gcm';

/** A record as buffers in wire order, to be sent as one datagram (`socket.send` takes a list). */
export type RecordParts = readonly [Buffer, Buffer, Buffer];
/** A sealed record to send as one datagram: one buffer (native backend) or its parts (node:crypto). */
export type SealedRecord = Buffer | RecordParts;
/** additional_data: seq_num(8) + type(1) + version(2) + length(2) (RFC 5246 §6.2.3.3, RFC 6347 §4.1.2.1). */
const AAD_BYTES = 13;
const NONCE_BYTES = GCM_IMPLICIT_NONCE_BYTES + GCM_EXPLICIT_NONCE_BYTES;
/** Where the explicit nonce starts in a record: right after the header. */
const EXPLICIT_NONCE_OFFSET = RECORD_HEADER_BYTES;
const CIPHERTEXT_OFFSET = RECORD_HEADER_BYTES + GCM_EXPLICIT_NONCE_BYTES;

/**
 * Scratch space for the nonce and the additional data of the record being sealed or opened,
 * shared by every session: Node copies both into the cipher object before seal/open returns,
 * so an idle session holds no buffers of its own (only its keys and implicit nonces).
 */
const scratchNonce = Buffer.alloc(NONCE_BYTES);
const scratchAad = Buffer.alloc(AAD_BYTES);

/**
 * AES-128-GCM record protection of DTLS 1.2 (RFC 5288 §3, RFC 6347 §4.1.2.1), written once
 * for both ends: `sealParts` builds a whole record (header, explicit nonce, ciphertext, tag),
 * `open` authenticates a record's fragment. The nonce and additional data are written into
 * module-wide scratch buffers for every record (both backends copy them before returning), so
 * an idle session holds only its keys and implicit nonces.
 *
 * Two backends, the same bytes on the wire (test/record-cipher.test.ts checks one against the
 * other): with the addon of native/aes_gcm.c each direction keeps one OpenSSL context and a
 * record only sets its nonce; with node:crypto each record makes a cipher object from the
 * direction's KeyObject (9-13 us a record on OpenSSL 3, the addon about 1.4 us).
 * The explicit nonce is epoch|sequence, unique per record as the sequence only grows.
 */
export class AesGcmRecordCipher {
  /** node:crypto backend: the KeyObjects (null with the addon). */
  private readonly writeKey: KeyObject | null = null;
  private readonly readKey: KeyObject | null = null;
  /** Native backend: the addon and one context per direction (null with node:crypto). */
  private readonly native: NativeAesGcm | null;
  private readonly writeContext: NativeGcmContext | null = null;
  private readonly readContext: NativeGcmContext | null = null;
  /** The implicit part of each direction's nonce: the first 4 bytes of its write IV (RFC 5288 §3). */
  private readonly writeSalt: number;
  private readonly readSalt: number;

  constructor(write: GcmDirectionKeys, read: GcmDirectionKeys, crypto: RecordCryptoBackend = defaultRecordCrypto()) {
    this.native = crypto.binding;
    if (this.native) {
      this.writeContext = this.native.createContext(exactKey(write.key), true);
      this.readContext = this.native.createContext(exactKey(read.key), false);
    } else {
      this.writeKey = createSecretKey(exactKey(write.key));
      this.readKey = createSecretKey(exactKey(read.key));
    }
    this.writeSalt = saltOf(write.iv);
    this.readSalt = saltOf(read.iv);
  }

  /** Which backend this cipher uses. */
  get backend(): 'native' | 'node' {
    return this.native ? 'native' : 'node';
  }

  /** The whole protected record for `plaintext` (RFC 6347 §4.1 header, RFC 5288 §3 fragment), in one buffer. */
  seal(type: number, version: number, epoch: number, sequence: number, plaintext: Uint8Array): Buffer {
    const record = this.sealParts(type, version, epoch, sequence, plaintext);
    return Buffer.isBuffer(record) ? record : Buffer.concat(record);
  }

  /**
   * The record as it goes into one datagram. Native: one buffer, header written here and the
   * addon's ciphertext and tag right after it. node:crypto: three buffers in wire order (header
   * with explicit nonce, ciphertext, tag), sent as they are (one sendmsg with three iovecs), so
   * the ciphertext the cipher made is not copied into a record buffer.
   */
  sealParts(type: number, version: number, epoch: number, sequence: number, plaintext: Uint8Array): SealedRecord {
    const fragmentBytes = GCM_EXPLICIT_NONCE_BYTES + plaintext.length + GCM_TAG_BYTES;
    // Native: the whole record (header, nonce, ciphertext, tag). node:crypto: 21 bytes of Node's shared pool.
    const head = Buffer.allocUnsafe(this.native ? RECORD_HEADER_BYTES + fragmentBytes : CIPHERTEXT_OFFSET);
    head[0] = type;
    head.writeUInt16BE(version, 1);
    head.writeUInt16BE(epoch, 3);
    head.writeUIntBE(sequence, 5, 6);
    head.writeUInt16BE(fragmentBytes, 11);
    // Explicit nonce = epoch|sequence: the header's bytes 3..10.
    head.copy(head, EXPLICIT_NONCE_OFFSET, 3, 11);
    scratchNonce.writeUInt32BE(this.writeSalt, 0);
    head.copy(scratchNonce, GCM_IMPLICIT_NONCE_BYTES, 3, 11);
    writeAad(type, version, head, 3, plaintext.length);
    if (this.native) {
      if (!this.native.seal(this.writeContext!, scratchNonce, scratchAad, plaintext, head, CIPHERTEXT_OFFSET)) {
        throw new Error('AES-128-GCM seal failed');
      }
      return head;
    }
    const cipher = createCipheriv(ALGORITHM, this.writeKey!, scratchNonce, { authTagLength: GCM_TAG_BYTES });
    cipher.setAAD(scratchAad, { plaintextLength: plaintext.length });
    const encrypted = cipher.update(plaintext);
    // GCM is a stream mode: final() yields no bytes, only the tag.
    cipher.final();
    return [head, encrypted, cipher.getAuthTag()];
  }

  /**
   * The plaintext of a record fragment (explicit nonce, ciphertext, tag) whose header said
   * `type`, `version`, `epoch`, `sequence`; null when it is too short or does not authenticate.
   * `header` is the record's header bytes (for epoch|sequence as they were on the wire).
   */
  open(type: number, version: number, header: Buffer, fragment: Buffer): Buffer | null {
    const ciphertextBytes = fragment.length - GCM_EXPLICIT_NONCE_BYTES - GCM_TAG_BYTES;
    if (ciphertextBytes < 0) return null;
    scratchNonce.writeUInt32BE(this.readSalt, 0);
    fragment.copy(scratchNonce, GCM_IMPLICIT_NONCE_BYTES, 0, GCM_EXPLICIT_NONCE_BYTES);
    writeAad(type, version, header, 3, ciphertextBytes);
    if (this.native) {
      const plaintext = Buffer.allocUnsafe(ciphertextBytes);
      // RFC 5116 §2.2: no plaintext leaves when the tag does not verify.
      return this.native.open(this.readContext!, scratchNonce, scratchAad, fragment, GCM_EXPLICIT_NONCE_BYTES, ciphertextBytes, plaintext) ? plaintext : null;
    }
    try {
      const decipher = createDecipheriv(ALGORITHM, this.readKey!, scratchNonce, { authTagLength: GCM_TAG_BYTES });
      decipher.setAuthTag(fragment.subarray(fragment.length - GCM_TAG_BYTES));
      decipher.setAAD(scratchAad, { plaintextLength: ciphertextBytes });
      const plaintext = decipher.update(fragment.subarray(GCM_EXPLICIT_NONCE_BYTES, GCM_EXPLICIT_NONCE_BYTES + ciphertextBytes));
      decipher.final(); // throws when the tag does not verify
      return plaintext;
    } catch {
      return null;
    }
  }
}

/** additional_data = epoch|sequence (8 bytes from `source` at `at`) + type + version + length, into the scratch buffer. */
function writeAad(type: number, version: number, source: Buffer, at: number, length: number): void {
  source.copy(scratchAad, 0, at, at + 8);
  scratchAad[8] = type;
  scratchAad.writeUInt16BE(version, 9);
  scratchAad.writeUInt16BE(length, 11);
}

/** The implicit nonce (the IV's first GCM_IMPLICIT_NONCE_BYTES = 4 bytes) as a number. */
function saltOf(iv: Buffer): number {
  if (iv.length < GCM_IMPLICIT_NONCE_BYTES) throw new RangeError(`AES-128-GCM IV must have at least ${GCM_IMPLICIT_NONCE_BYTES} bytes, got ${iv.length}`);
  return iv.readUInt32BE(0);
}

function exactKey(key: Buffer): Buffer {
  if (key.length !== AES_128_KEY_BYTES) throw new RangeError(`AES-128-GCM key must be ${AES_128_KEY_BYTES} bytes, got ${key.length}`);
  return key;
}
