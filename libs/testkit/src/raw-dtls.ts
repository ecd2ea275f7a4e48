/**
 * Hand-made DTLS 1.2 records and a bare UDP peer that speaks just enough of the handshake to
 * get a hub to hold state for it (the stateless cookie exchange, RFC 6347 §4.2.1), for tests
 * of how a hub stands hostile peers: floods of garbage, fragments and handshakes.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { waitFor } from './wait.js';

/** DTLS record header bytes: type, version, epoch, sequence, length (RFC 6347 §4.1). */
const RECORD_HEADER_BYTES = 13;
/** Handshake header bytes: msg_type, length, message_seq, fragment_offset, fragment_length (RFC 6347 §4.2.2). */
const HANDSHAKE_HEADER_BYTES = 12;
/** Content types (RFC 5246 §6.2.1). */
export const RAW_CONTENT_TYPE = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;
/** Handshake types (RFC 5246 §7.4, RFC 6347 §4.3.2). */
export const RAW_HANDSHAKE_TYPE = { clientHello: 1, helloVerifyRequest: 3, certificate: 11, clientKeyExchange: 16, finished: 20 } as const;
const DTLS_1_2 = 0xfefd;

/** One record: header (RFC 6347 §4.1) and `fragment`. */
export function rawRecord(type: number, epoch: number, sequence: number, fragment: Buffer): Buffer {
  const header = Buffer.alloc(RECORD_HEADER_BYTES);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(DTLS_1_2, 1);
  header.writeUInt16BE(epoch, 3);
  header.writeUIntBE(sequence, 5, 6);
  header.writeUInt16BE(fragment.length, 11);
  return Buffer.concat([header, fragment]);
}

export interface RawHandshakeFragment {
  msgType: number;
  /** The whole message's length; default: the body's. */
  length?: number;
  messageSeq?: number;
  fragmentOffset?: number;
  /** Default: the body's length. */
  fragmentLength?: number;
  body: Buffer;
}

/** One handshake fragment, header and body (RFC 6347 §4.2.2); the fields are written as given, valid or not. */
export function rawHandshakeFragment(fragment: RawHandshakeFragment): Buffer {
  const header = Buffer.alloc(HANDSHAKE_HEADER_BYTES);
  header.writeUInt8(fragment.msgType, 0);
  header.writeUIntBE(fragment.length ?? fragment.body.length, 1, 3);
  header.writeUInt16BE(fragment.messageSeq ?? 0, 4);
  header.writeUIntBE(fragment.fragmentOffset ?? 0, 6, 3);
  header.writeUIntBE(fragment.fragmentLength ?? fragment.body.length, 9, 3);
  return Buffer.concat([header, fragment.body]);
}

/** Length claimed by `rawPartialCertificate` for its message, in bytes. */
export const RAW_PARTIAL_MESSAGE_BYTES = 4096;
/** Bytes of message body in one `rawPartialCertificate` record. */
export const RAW_PARTIAL_FRAGMENT_BYTES = 100;

/**
 * An epoch-0 record with fragment number `index` of a Certificate message whose last bytes
 * never come: a receiver that buffers fragments until the message is whole keeps it.
 */
export function rawPartialCertificate(index: number, recordSequence: number): Buffer {
  const fragment = rawHandshakeFragment({
    msgType: RAW_HANDSHAKE_TYPE.certificate,
    length: RAW_PARTIAL_MESSAGE_BYTES,
    messageSeq: 2,
    fragmentOffset: (index * RAW_PARTIAL_FRAGMENT_BYTES) % (RAW_PARTIAL_MESSAGE_BYTES - RAW_PARTIAL_FRAGMENT_BYTES),
    body: randomBytes(RAW_PARTIAL_FRAGMENT_BYTES),
  });
  return rawRecord(RAW_CONTENT_TYPE.handshake, 0, recordSequence, fragment);
}

export interface RawHelloOptions {
  random?: Buffer;
  cookie?: Buffer;
  recordSequence?: number;
  messageSeq?: number;
  /** Bytes of a padding extension (RFC 7685); default none. */
  paddingBytes?: number;
  /** Leave out every extension: the smallest well-formed ClientHello. */
  bare?: boolean;
}

/**
 * A ClientHello record (RFC 6347 §4.2.1, RFC 5246 §7.4.1.2): one suite
 * (ECDHE-ECDSA-AES128-GCM-SHA256), supported_groups P-256, signature_algorithms
 * ecdsa_secp256r1_sha256, extended_master_secret.
 */
export function rawClientHello(options: RawHelloOptions = {}): Buffer {
  const random = options.random ?? randomBytes(32);
  const cookie = options.cookie ?? Buffer.alloc(0);
  const padding = options.paddingBytes ?? 0;
  const extensions = options.bare
    ? Buffer.alloc(0)
    : Buffer.concat([
        Buffer.from([0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17]), // supported_groups: secp256r1
        Buffer.from([0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]), // signature_algorithms
        Buffer.from([0x00, 0x17, 0x00, 0x00]), // extended_master_secret
        padding > 0 ? Buffer.concat([Buffer.from([0x00, 0x15, padding >> 8, padding & 0xff]), Buffer.alloc(padding)]) : Buffer.alloc(0),
      ]);
  const body = Buffer.concat([
    Buffer.from([0xfe, 0xfd]),
    random,
    Buffer.from([0]), // session_id
    Buffer.from([cookie.length]),
    cookie,
    Buffer.from([0x00, 0x02, 0xc0, 0x2b]),
    Buffer.from([0x01, 0x00]), // compression: null
    options.bare ? Buffer.alloc(0) : Buffer.from([extensions.length >> 8, extensions.length & 0xff]),
    extensions,
  ]);
  const message = rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.clientHello, messageSeq: options.messageSeq ?? 0, body });
  return rawRecord(RAW_CONTENT_TYPE.handshake, 0, options.recordSequence ?? 0, message);
}

/** The cookie of a HelloVerifyRequest datagram, or null if it is not one. */
export function cookieFromHelloVerifyRequest(datagram: Buffer): Buffer | null {
  const cookieAt = RECORD_HEADER_BYTES + HANDSHAKE_HEADER_BYTES + 3;
  if (datagram.length < cookieAt || datagram.readUInt8(0) !== RAW_CONTENT_TYPE.handshake) return null;
  if (datagram.readUInt8(RECORD_HEADER_BYTES) !== RAW_HANDSHAKE_TYPE.helloVerifyRequest) return null;
  const length = datagram.readUInt8(cookieAt - 1);
  return datagram.subarray(cookieAt, cookieAt + length);
}

/** Time a RawDtlsPeer waits for a hub's HelloVerifyRequest, in ms. */
export const RAW_PEER_REPLY_TIMEOUT_MS = 5_000;

/**
 * A bare UDP socket that talks raw DTLS to a hub: collects every reply, and can take a hub
 * through the cookie exchange so that it starts a handshake (and holds state) for it.
 */
export class RawDtlsPeer {
  /** Every datagram received, in order. */
  readonly replies: Buffer[] = [];
  private recordSequence = 0;

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (datagram) => this.replies.push(datagram));
  }

  /** A socket on `host` (a loopback address such as 127.0.0.2 makes another source IP) and port (0: any). */
  static async open(host = '127.0.0.1', port = 0, reuseAddr = false): Promise<RawDtlsPeer> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr });
    socket.bind(port, host);
    await once(socket, 'listening');
    return new RawDtlsPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends one datagram and waits until the kernel took it. */
  send(datagram: Buffer, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise<void>((resolve, reject) => this.socket.send(datagram, port, host, (err) => (err ? reject(err) : resolve())));
  }

  /** The next record number for records this peer makes (ClientHellos of `startHandshake`). */
  nextRecordSequence(): number {
    return this.recordSequence++;
  }

  /**
   * The cookie exchange: a ClientHello, the hub's HelloVerifyRequest, the ClientHello again with
   * the cookie. After it the hub holds a handshake for this peer, unless it refuses one: then
   * nothing more comes back (see `replies`).
   */
  async startHandshake(port: number, host = '127.0.0.1'): Promise<void> {
    const random = randomBytes(32);
    const before = this.replies.length;
    await this.send(rawClientHello({ random, recordSequence: this.nextRecordSequence() }), port, host);
    const request = await waitFor('a HelloVerifyRequest', () => this.replies.slice(before).find((reply) => cookieFromHelloVerifyRequest(reply)), RAW_PEER_REPLY_TIMEOUT_MS, 5);
    const cookie = cookieFromHelloVerifyRequest(request) ?? Buffer.alloc(0);
    await this.send(rawClientHello({ random, cookie, recordSequence: this.nextRecordSequence(), messageSeq: 1 }), port, host);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
