import { MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES } from './constants.js';
import { ContentType, type DtlsRecord } from './record.js';

/** Handshake header: msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3) (RFC 6347 §4.2.2). */
export const HANDSHAKE_HEADER_BYTES = 12;

/** Handshake message types used here (RFC 6347 §4.3.2). */
export const HandshakeType = { ClientHello: 1, HelloVerifyRequest: 3 } as const;

const RANDOM_BYTES = 32;
const MAX_SESSION_ID_BYTES = 32;

/** The fields of a ClientHello that the stateless cookie binds (RFC 6347 §4.2.1). */
export interface ClientHelloInfo {
  /** Record sequence number of the ClientHello (echoed by HelloVerifyRequest). */
  readonly recordSequence: number;
  readonly messageSeq: number;
  readonly clientVersion: number;
  readonly random: Buffer;
  readonly sessionId: Buffer;
  readonly cookie: Buffer;
  readonly cipherSuites: Buffer;
  readonly compressionMethods: Buffer;
  /** The whole handshake message body (header excluded). */
  readonly body: Buffer;
}

/** True when the record is an epoch-0 handshake record carrying a ClientHello. */
export function isClientHelloRecord(record: DtlsRecord): boolean {
  return (
    record.type === ContentType.Handshake &&
    record.epoch === 0 &&
    record.fragment.length >= HANDSHAKE_HEADER_BYTES &&
    record.fragment.readUInt8(0) === HandshakeType.ClientHello
  );
}

/**
 * Parses an unfragmented ClientHello (RFC 6347 §4.2.1; RFC 5246 §7.4.1.2). Returns null
 * for anything malformed or fragmented, or longer than MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES:
 * a ClientHello must fit one datagram here, as with OpenSSL's DTLSv1_listen.
 */
export function parseClientHello(record: DtlsRecord): ClientHelloInfo | null {
  if (!isClientHelloRecord(record)) return null;
  const fragment = record.fragment;
  const length = fragment.readUIntBE(1, 3);
  const messageSeq = fragment.readUInt16BE(4);
  const fragmentOffset = fragment.readUIntBE(6, 3);
  const fragmentLength = fragment.readUIntBE(9, 3);
  if (fragmentOffset !== 0 || fragmentLength !== length) return null;
  if (length > MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES) return null;
  if (fragment.length !== HANDSHAKE_HEADER_BYTES + length) return null;
  const body = fragment.subarray(HANDSHAKE_HEADER_BYTES);

  let offset = 0;
  const take = (n: number): Buffer | null => {
    if (offset + n > body.length) return null;
    const out = body.subarray(offset, offset + n);
    offset += n;
    return out;
  };
  const takeVector = (lengthBytes: 1 | 2, max: number): Buffer | null => {
    const len = take(lengthBytes);
    if (len === null) return null;
    const n = lengthBytes === 1 ? len.readUInt8(0) : len.readUInt16BE(0);
    return n > max ? null : take(n);
  };

  const version = take(2);
  const random = take(RANDOM_BYTES);
  const sessionId = takeVector(1, MAX_SESSION_ID_BYTES);
  const cookie = takeVector(1, 255);
  const cipherSuites = takeVector(2, 0xfffe);
  const compressionMethods = takeVector(1, 255);
  if (!version || !random || !sessionId || !cookie || !cipherSuites || !compressionMethods) return null;
  if (cipherSuites.length < 2 || cipherSuites.length % 2 !== 0 || compressionMethods.length < 1) return null;

  return {
    recordSequence: record.sequence,
    messageSeq,
    clientVersion: version.readUInt16BE(0),
    random,
    sessionId,
    cookie,
    cipherSuites,
    compressionMethods,
    body,
  };
}
