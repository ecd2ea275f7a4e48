import { HANDSHAKE_HEADER_BYTES } from './client-hello.js';
import { ContentType, type DtlsRecord } from './record.js';

/**
 * Handshake messages a client sends in the clear after its ClientHello: its final flight
 * before ChangeCipherSpec (RFC 5246 §7.3, §7.4.6-§7.4.8). Finished comes encrypted.
 */
const CLIENT_FLIGHT_MESSAGE_TYPES: ReadonlySet<number> = new Set([
  11, // certificate
  15, // certificate_verify
  16, // client_key_exchange
]);

/** The one byte of a ChangeCipherSpec message (RFC 5246 §7.1). */
const CHANGE_CIPHER_SPEC_BYTE = 1;

/** The header of one handshake fragment (RFC 6347 §4.2.2). */
export interface HandshakeFragmentHeader {
  readonly msgType: number;
  /** Length of the whole message. */
  readonly length: number;
  readonly messageSeq: number;
  readonly fragmentOffset: number;
  readonly fragmentLength: number;
}

/** True when the fragment carries part of its message only (werift buffers it until the message is whole). */
export function isPartialFragment(header: HandshakeFragmentHeader): boolean {
  return header.fragmentLength < header.length;
}

/**
 * Reads and checks the handshake fragments of an epoch-0 handshake record that a client
 * sends after its ClientHello, before anything is buffered for them. Returns null when the
 * record is not made of whole fragment headers and bodies, when a fragment lies outside its
 * message (fragment_offset + fragment_length > length, RFC 6347 §4.2.3), carries no bytes of a
 * non-empty message, is of a type a client does not send in the clear at that point, or
 * belongs to a message longer than `maxMessageBytes`.
 */
export function parseClientFlightFragments(fragment: Buffer, maxMessageBytes: number): HandshakeFragmentHeader[] | null {
  const headers: HandshakeFragmentHeader[] = [];
  let offset = 0;
  while (offset < fragment.length) {
    if (fragment.length - offset < HANDSHAKE_HEADER_BYTES) return null;
    const header: HandshakeFragmentHeader = {
      msgType: fragment.readUInt8(offset),
      length: fragment.readUIntBE(offset + 1, 3),
      messageSeq: fragment.readUInt16BE(offset + 4),
      fragmentOffset: fragment.readUIntBE(offset + 6, 3),
      fragmentLength: fragment.readUIntBE(offset + 9, 3),
    };
    if (!CLIENT_FLIGHT_MESSAGE_TYPES.has(header.msgType)) return null;
    if (header.length > maxMessageBytes) return null;
    if (header.fragmentOffset + header.fragmentLength > header.length) return null;
    if (header.fragmentLength === 0 && header.length > 0) return null;
    const end = offset + HANDSHAKE_HEADER_BYTES + header.fragmentLength;
    if (end > fragment.length) return null;
    headers.push(header);
    offset = end;
  }
  return headers.length > 0 ? headers : null;
}

/** True when the record is a well-formed ChangeCipherSpec (RFC 5246 §7.1: one byte, value 1). */
export function isChangeCipherSpec(record: DtlsRecord): boolean {
  return record.type === ContentType.ChangeCipherSpec && record.fragment.length === 1 && record.fragment[0] === CHANGE_CIPHER_SPEC_BYTE;
}

/**
 * The fragments of an epoch-0 record a client sends after its ClientHello: none for a
 * well-formed ChangeCipherSpec, the checked fragments of a handshake record, null for
 * anything else (see parseClientFlightFragments).
 */
export function checkClientFlightRecord(record: DtlsRecord, maxMessageBytes: number): HandshakeFragmentHeader[] | null {
  if (record.type === ContentType.Handshake) return parseClientFlightFragments(record.fragment, maxMessageBytes);
  return isChangeCipherSpec(record) ? [] : null;
}
