import { MAX_RECORD_FRAGMENT_BYTES, MAX_RECORDS_PER_DATAGRAM, RECORD_HEADER_BYTES } from './constants.js';

/** DTLS content types (RFC 5246 §6.2.1). */
export const ContentType = {
  ChangeCipherSpec: 20,
  Alert: 21,
  Handshake: 22,
  ApplicationData: 23,
} as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

/** Wire versions: DTLS 1.0 (0xfeff, used by HelloVerifyRequest) and DTLS 1.2 (0xfefd). */
export const DTLS_1_0_VERSION = 0xfeff;
export const DTLS_1_2_VERSION = 0xfefd;

/** Alert levels and the descriptions we act on (RFC 5246 §7.2). */
export const AlertLevel = { Warning: 1, Fatal: 2 } as const;
export const ALERT_CLOSE_NOTIFY = 0;

/** One record of a datagram; `fragment` and `bytes` are views into the datagram. */
export interface DtlsRecord {
  readonly type: ContentType;
  readonly version: number;
  readonly epoch: number;
  readonly sequence: number;
  readonly fragment: Buffer;
  /** The whole record, header included. */
  readonly bytes: Buffer;
}

function isContentType(value: number): value is ContentType {
  return value >= ContentType.ChangeCipherSpec && value <= ContentType.ApplicationData;
}

/**
 * Splits a datagram into records (RFC 6347 §4.1: several records may share a datagram).
 * Returns null when the datagram is not well-formed DTLS: too short, unknown content type,
 * a version other than DTLS 1.x, an oversized or truncated record, trailing bytes, or more
 * than `maxRecords` records (the work one datagram may start is bounded).
 * Invalid datagrams are silently discarded (RFC 6347 §4.1.2.7).
 */
export function parseRecords(datagram: Buffer, maxRecords: number = MAX_RECORDS_PER_DATAGRAM): DtlsRecord[] | null {
  const records: DtlsRecord[] = [];
  let offset = 0;
  while (offset < datagram.length) {
    if (records.length >= maxRecords) return null;
    if (datagram.length - offset < RECORD_HEADER_BYTES) return null;
    const type = datagram.readUInt8(offset);
    const version = datagram.readUInt16BE(offset + 1);
    const length = datagram.readUInt16BE(offset + 11);
    if (!isContentType(type)) return null;
    if (version !== DTLS_1_2_VERSION && version !== DTLS_1_0_VERSION) return null;
    if (length > MAX_RECORD_FRAGMENT_BYTES) return null;
    const end = offset + RECORD_HEADER_BYTES + length;
    if (end > datagram.length) return null;
    records.push({
      type,
      version,
      epoch: datagram.readUInt16BE(offset + 3),
      sequence: datagram.readUIntBE(offset + 5, 6),
      fragment: datagram.subarray(offset + RECORD_HEADER_BYTES, end),
      bytes: datagram.subarray(offset, end),
    });
    offset = end;
  }
  return records.length > 0 ? records : null;
}

/** Encodes one record: header (RFC 6347 §4.1) followed by `fragment`. */
export function encodeRecord(
  type: ContentType,
  version: number,
  epoch: number,
  sequence: number,
  fragment: Buffer,
): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + fragment.length);
  out.writeUInt8(type, 0);
  out.writeUInt16BE(version, 1);
  out.writeUInt16BE(epoch, 3);
  out.writeUIntBE(sequence, 5, 6);
  out.writeUInt16BE(fragment.length, 11);
  fragment.copy(out, RECORD_HEADER_BYTES);
  return out;
}
