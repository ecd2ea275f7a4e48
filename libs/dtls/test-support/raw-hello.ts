import { randomBytes } from 'node:crypto';

export interface RawHelloOptions {
  random?: Buffer;
  cookie?: Buffer;
  recordSequence?: number;
  messageSeq?: number;
}

/**
 * A hand-made DTLS 1.2 ClientHello record (RFC 6347 §4.2.1, RFC 5246 §7.4.1.2): one suite
 * (ECDHE-ECDSA-AES128-GCM-SHA256), supported_groups P-256, signature_algorithms
 * ecdsa_secp256r1_sha256, extended_master_secret.
 */
export function rawClientHello(options: RawHelloOptions = {}): Buffer {
  const random = options.random ?? randomBytes(32);
  const cookie = options.cookie ?? Buffer.alloc(0);
  const extensions = Buffer.concat([
    Buffer.from([0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17]), // supported_groups: secp256r1
    Buffer.from([0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]), // signature_algorithms
    Buffer.from([0x00, 0x17, 0x00, 0x00]), // extended_master_secret
  ]);
  const body = Buffer.concat([
    Buffer.from([0xfe, 0xfd]),
    random,
    Buffer.from([0]), // session_id
    Buffer.from([cookie.length]),
    cookie,
    Buffer.from([0x00, 0x02, 0xc0, 0x2b]),
    Buffer.from([0x01, 0x00]), // compression: null
    Buffer.from([extensions.length >> 8, extensions.length & 0xff]),
    extensions,
  ]);
  const handshake = Buffer.alloc(12);
  handshake.writeUInt8(1, 0);
  handshake.writeUIntBE(body.length, 1, 3);
  handshake.writeUInt16BE(options.messageSeq ?? 0, 4);
  handshake.writeUIntBE(0, 6, 3);
  handshake.writeUIntBE(body.length, 9, 3);
  const fragment = Buffer.concat([handshake, body]);
  const header = Buffer.alloc(13);
  header.writeUInt8(22, 0);
  header.writeUInt16BE(0xfefd, 1);
  header.writeUInt16BE(0, 3);
  header.writeUIntBE(options.recordSequence ?? 0, 5, 6);
  header.writeUInt16BE(fragment.length, 11);
  return Buffer.concat([header, fragment]);
}

/** The cookie of a HelloVerifyRequest datagram, or null if it is not one. */
export function cookieFromHelloVerifyRequest(datagram: Buffer): Buffer | null {
  if (datagram.length < 13 + 12 + 3 || datagram.readUInt8(0) !== 22 || datagram.readUInt8(13) !== 3) return null;
  const length = datagram.readUInt8(13 + 12 + 2);
  return datagram.subarray(13 + 12 + 3, 13 + 12 + 3 + length);
}
