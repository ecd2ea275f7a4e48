import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { COOKIE_SECRET_BYTES, COOKIE_TIME_SLOT_MS, MIN_COOKIE_SECRET_BYTES } from './constants.js';
import { HANDSHAKE_HEADER_BYTES, HandshakeType, type ClientHelloInfo } from './client-hello.js';
import { ContentType, DTLS_1_0_VERSION, encodeRecord } from './record.js';

/**
 * Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1):
 * cookie = HMAC-SHA256(secret, time slot | client address | port | ClientHello parameters).
 * Nothing is allocated for a peer until it echoes a valid cookie, which proves it receives
 * datagrams at its source address. A cookie stays valid for one to two time slots.
 *
 * Several secrets rotate with an overlap: the first signs, every one verifies (RFC 6347
 * §4.2.1: "a server can change the secret"). Hubs behind one UDP address that share the list
 * accept each other's cookies, whichever hub the balancer sends the second ClientHello to.
 */
export class CookieAuthority {
  private readonly secrets: readonly Buffer[];

  constructor(secrets: Buffer | readonly Buffer[] = randomBytes(COOKIE_SECRET_BYTES), private readonly now: () => number = Date.now) {
    const list = Buffer.isBuffer(secrets) ? [secrets] : [...secrets];
    if (list.length === 0) throw new RangeError('cookie secrets: at least one is needed');
    for (const secret of list) {
      if (secret.length < MIN_COOKIE_SECRET_BYTES) throw new RangeError(`cookie secret must be at least ${MIN_COOKIE_SECRET_BYTES} bytes`);
    }
    this.secrets = list.map((secret) => Buffer.from(secret));
  }

  /** The cookie for this peer and ClientHello in the current time slot. */
  make(address: string, port: number, hello: ClientHelloInfo): Buffer {
    return this.compute(this.secrets[0]!, this.slot(), address, port, hello);
  }

  /** True when the ClientHello carries a cookie made for this peer in this or the previous slot. */
  verify(address: string, port: number, hello: ClientHelloInfo): boolean {
    if (hello.cookie.length === 0) return false;
    const slot = this.slot();
    for (const secret of this.secrets) {
      for (const candidate of [slot, slot - 1]) {
        const expected = this.compute(secret, candidate, address, port, hello);
        if (expected.length === hello.cookie.length && timingSafeEqual(expected, hello.cookie)) return true;
      }
    }
    return false;
  }

  private slot(): number {
    return Math.floor(this.now() / COOKIE_TIME_SLOT_MS);
  }

  private compute(secret: Buffer, slot: number, address: string, port: number, hello: ClientHelloInfo): Buffer {
    const fixed = Buffer.alloc(12);
    fixed.writeUIntBE(slot, 0, 6);
    fixed.writeUInt16BE(port, 6);
    fixed.writeUInt16BE(hello.clientVersion, 8);
    const lengths = Buffer.alloc(5);
    lengths.writeUInt8(hello.sessionId.length, 0);
    lengths.writeUInt16BE(hello.cipherSuites.length, 1);
    lengths.writeUInt16BE(hello.compressionMethods.length, 3);
    return createHmac('sha256', secret)
      .update(fixed)
      .update(address)
      .update(hello.random)
      .update(lengths)
      .update(hello.sessionId)
      .update(hello.cipherSuites)
      .update(hello.compressionMethods)
      .digest();
  }
}

/**
 * A HelloVerifyRequest record answering `hello` (RFC 6347 §4.2.1): server_version DTLS 1.0,
 * message_seq 0, and the record sequence number of the ClientHello it answers.
 */
export function encodeHelloVerifyRequest(hello: ClientHelloInfo, cookie: Buffer): Buffer {
  const bodyLength = 2 + 1 + cookie.length;
  const message = Buffer.alloc(HANDSHAKE_HEADER_BYTES + bodyLength);
  message.writeUInt8(HandshakeType.HelloVerifyRequest, 0);
  message.writeUIntBE(bodyLength, 1, 3);
  message.writeUInt16BE(0, 4); // message_seq
  message.writeUIntBE(0, 6, 3); // fragment_offset
  message.writeUIntBE(bodyLength, 9, 3); // fragment_length
  message.writeUInt16BE(DTLS_1_0_VERSION, HANDSHAKE_HEADER_BYTES);
  message.writeUInt8(cookie.length, HANDSHAKE_HEADER_BYTES + 2);
  cookie.copy(message, HANDSHAKE_HEADER_BYTES + 3);
  return encodeRecord(ContentType.Handshake, DTLS_1_0_VERSION, 0, hello.recordSequence, message);
}

/**
 * The HelloVerifyRequest answering `hello`, or null when it would be larger than the datagram
 * of `requestBytes` that asked for it: the stateless reply must not amplify (RFC 6347 §4.2.1).
 * With a 32-byte cookie it is 60 bytes and the smallest well-formed ClientHello datagram 67.
 */
export function helloVerifyRequestWithin(hello: ClientHelloInfo, cookie: Buffer, requestBytes: number): Buffer | null {
  const request = encodeHelloVerifyRequest(hello, cookie);
  return request.length <= requestBytes ? request : null;
}
