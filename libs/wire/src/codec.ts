/**
 * Encoding of wire messages (wire version 2, binary): `[u32 length][u8 tag][fields][extensions]`,
 * the length (big endian) counting tag, fields and extensions. No JSON on the hot path.
 *
 * Field encodings (all integers big endian):
 * - string: `[u16 byte length][UTF-8 bytes]`
 * - headers: `[u16 count]` then `count` times `[string name][string value]`
 * - u16 / u48 (epoch) / u8 flags as named per message below
 *
 * Fields per message, in order (docs/architecture.md, "Wire messages"):
 * - hello:         client_id, token, agent_version, u16 count + service names, instance_id ("" = none)
 * - hello_ok:      hub_id, u48 epoch
 * - hello_reject:  code, reason
 * - request_head:  request_id, service, method, path, u8 flags (bit 0: has_body), headers
 * - response_head: u16 status, headers
 * - stream_error:  code, message
 * - go_away:       code, reason
 *
 * After the fields, until the end of the message: extensions, each `[u8 id][u16 length][bytes]`.
 * A receiver skips ids it does not know, so a newer sender can add a field without a version
 * bump; the hub never decodes heads at all (it splices them, see envelope.ts).
 */
import { HopError, ErrorCode, isErrorCode } from '@hopgate/errors';
import {
  MessageTag,
  WIRE_MAGIC,
  WIRE_VERSION,
  type Extension,
  type Hello,
  type HeaderPairs,
  type MessageKind,
  type WireMessage,
} from './messages.js';

/** Largest encoded message (tag + fields + extensions) accepted, in bytes: bounds header sizes. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Bytes of the length prefix. */
export const LENGTH_PREFIX_BYTES = 4;
/** Preface: 4 magic bytes + u16 version. */
export const PREFACE_BYTES = 6;
/** Largest byte length of one string field (its u16 length prefix). */
export const MAX_STRING_BYTES = 0xffff;
/** Largest number of headers (or service names) in one message (the u16 count). */
export const MAX_LIST_ITEMS = 0xffff;
/** Bytes of an extension's header: u8 id + u16 length. */
const EXTENSION_HEADER_BYTES = 3;
/** Largest epoch the u48 field carries. */
const MAX_EPOCH = 2 ** 48 - 1;
/** Flag bit of request_head: body bytes follow the head. */
const FLAG_HAS_BODY = 0x01;
/** Worst case UTF-8 bytes per UTF-16 code unit of a JS string. */
const MAX_UTF8_BYTES_PER_UNIT = 3;
/** Initial size of the encoder's scratch buffer, in bytes (grows to the largest message seen). */
const INITIAL_SCRATCH_BYTES = 16 * 1024;

const TAG_TO_KIND = new Map<number, MessageKind>(Object.entries(MessageTag).map(([kind, tag]) => [tag, kind as MessageKind]));

/** Thrown by decodePreface for a peer of another wire version; `peerVersion` says which. */
export class WireVersionError extends HopError {
  constructor(
    readonly peerVersion: number,
    message: string,
  ) {
    super(ErrorCode.BadVersion, message);
  }
}

export function encodePreface(version: number = WIRE_VERSION): Buffer {
  const buf = Buffer.alloc(PREFACE_BYTES);
  buf.write(WIRE_MAGIC, 0, 'latin1');
  buf.writeUInt16BE(version, 4);
  return buf;
}

/** Checks a preface; throws BadVersion on a wrong magic, WireVersionError on another version. */
export function decodePreface(buf: Uint8Array): number {
  if (buf.length < PREFACE_BYTES) throw new HopError(ErrorCode.BadFrame, 'truncated preface');
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.toString('latin1', 0, 4) !== WIRE_MAGIC) throw new HopError(ErrorCode.BadVersion, 'bad wire magic: not a HopGate peer');
  const version = b.readUInt16BE(4);
  if (version !== WIRE_VERSION) {
    throw new WireVersionError(version, `unsupported wire version ${version} (this side speaks ${WIRE_VERSION})`);
  }
  return version;
}

/** One growable buffer the encoder writes into; each message is copied out at its exact size. */
class Writer {
  private buf = Buffer.allocUnsafe(INITIAL_SCRATCH_BYTES);
  off = 0;

  reset(): void {
    this.off = 0;
  }

  private room(bytes: number): void {
    const need = this.off + bytes;
    if (need <= this.buf.length) return;
    if (need > LENGTH_PREFIX_BYTES + MAX_MESSAGE_BYTES + MAX_STRING_BYTES * MAX_UTF8_BYTES_PER_UNIT) {
      throw new HopError(ErrorCode.BadFrame, `message too large: over ${MAX_MESSAGE_BYTES} bytes`);
    }
    const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.off);
    this.buf = grown;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.off++] = v;
  }

  u16(v: number): void {
    this.room(2);
    this.off = this.buf.writeUInt16BE(v, this.off);
  }

  u32(v: number): void {
    this.room(4);
    this.off = this.buf.writeUInt32BE(v, this.off);
  }

  u48(v: number): void {
    this.room(6);
    this.off = this.buf.writeUIntBE(v, this.off, 6);
  }

  str(s: string, field: string): void {
    this.room(2 + s.length * MAX_UTF8_BYTES_PER_UNIT);
    const n = this.buf.write(s, this.off + 2, 'utf8');
    if (n > MAX_STRING_BYTES) throw new HopError(ErrorCode.BadFrame, `field "${field}" too long: ${n} bytes (limit ${MAX_STRING_BYTES})`);
    this.buf.writeUInt16BE(n, this.off);
    this.off += 2 + n;
  }

  bytes(b: Uint8Array): void {
    this.room(b.byteLength);
    this.buf.set(b, this.off);
    this.off += b.byteLength;
  }

  headers(list: HeaderPairs): void {
    if (list.length > MAX_LIST_ITEMS) throw new HopError(ErrorCode.BadFrame, `too many headers: ${list.length}`);
    this.u16(list.length);
    for (const [name, value] of list) {
      this.str(name, 'header name');
      this.str(value, 'header value');
    }
  }

  /** Fills in the length prefix of the message that starts at 0 and returns a copy of it. */
  finish(): Buffer {
    const length = this.off - LENGTH_PREFIX_BYTES;
    if (length > MAX_MESSAGE_BYTES) throw new HopError(ErrorCode.BadFrame, `message too large: ${length} bytes`);
    this.buf.writeUInt32BE(length, 0);
    const out = Buffer.allocUnsafe(this.off);
    this.buf.copy(out, 0, 0, this.off);
    return out;
  }
}

const writer = new Writer();

function writeExtensions(w: Writer, extensions: readonly Extension[] | undefined): void {
  if (!extensions) return;
  for (const ext of extensions) {
    if (!Number.isInteger(ext.id) || ext.id < 0 || ext.id > 0xff || ext.value.byteLength > MAX_STRING_BYTES) {
      throw new HopError(ErrorCode.BadFrame, `bad extension ${ext.id}`);
    }
    w.u8(ext.id);
    w.u16(ext.value.byteLength);
    w.bytes(ext.value);
  }
}

export function encodeMessage(msg: WireMessage): Buffer {
  const w = writer;
  w.reset();
  w.u32(0); // length, filled in by finish()
  w.u8(MessageTag[msg.type]);
  switch (msg.type) {
    case 'hello':
      w.str(msg.client_id, 'client_id');
      w.str(msg.token, 'token');
      w.str(msg.agent_version, 'agent_version');
      if (msg.services.length > MAX_LIST_ITEMS) throw new HopError(ErrorCode.BadFrame, 'too many services');
      w.u16(msg.services.length);
      for (const s of msg.services) w.str(s, 'services');
      w.str(msg.instance_id ?? '', 'instance_id');
      break;
    case 'hello_ok':
      if (!Number.isSafeInteger(msg.epoch) || msg.epoch < 0 || msg.epoch > MAX_EPOCH) throw new HopError(ErrorCode.BadFrame, `bad epoch ${msg.epoch}`);
      w.str(msg.hub_id, 'hub_id');
      w.u48(msg.epoch);
      break;
    case 'hello_reject':
    case 'go_away':
      w.str(msg.code, 'code');
      w.str(msg.reason, 'reason');
      break;
    case 'request_head':
      w.str(msg.request_id, 'request_id');
      w.str(msg.service, 'service');
      w.str(msg.method, 'method');
      w.str(msg.path, 'path');
      w.u8(msg.has_body ? FLAG_HAS_BODY : 0);
      w.headers(msg.headers);
      break;
    case 'response_head':
      if (!Number.isInteger(msg.status) || msg.status < 100 || msg.status > 999) throw new HopError(ErrorCode.BadFrame, `bad status ${msg.status}`);
      w.u16(msg.status);
      w.headers(msg.headers);
      break;
    case 'stream_error':
      w.str(msg.code, 'code');
      w.str(msg.message, 'message');
      break;
  }
  writeExtensions(w, msg.extensions);
  return w.finish();
}

/** Reads fields of one message out of `b` between `off` and `end`; throws BadFrame past the end. */
class Reader {
  constructor(
    private readonly b: Buffer,
    public off: number,
    private readonly end: number,
    private readonly kind: MessageKind,
  ) {}

  private need(bytes: number, field: string): void {
    if (this.off + bytes > this.end) throw new HopError(ErrorCode.BadFrame, `malformed ${this.kind}: truncated "${field}"`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.b[this.off++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.b.readUInt16BE(this.off);
    this.off += 2;
    return v;
  }

  u48(field: string): number {
    this.need(6, field);
    const v = this.b.readUIntBE(this.off, 6);
    this.off += 6;
    return v;
  }

  str(field: string): string {
    const n = this.u16(field);
    this.need(n, field);
    const s = this.b.toString('utf8', this.off, this.off + n);
    this.off += n;
    return s;
  }

  headers(): HeaderPairs {
    const count = this.u16('headers');
    const out: HeaderPairs = new Array(count);
    for (let i = 0; i < count; i++) out[i] = [this.str('headers'), this.str('headers')];
    return out;
  }

  code(field: string): ErrorCode {
    const v = this.str(field);
    return isErrorCode(v) ? v : ErrorCode.Internal;
  }

  /** The extensions up to the end of the message (ids kept as sent; the caller skips unknown ones). */
  extensions(): Extension[] | undefined {
    if (this.off === this.end) return undefined;
    const out: Extension[] = [];
    while (this.off < this.end) {
      this.need(EXTENSION_HEADER_BYTES, 'extension');
      const id = this.b[this.off]!;
      const length = this.b.readUInt16BE(this.off + 1);
      this.off += EXTENSION_HEADER_BYTES;
      this.need(length, 'extension');
      out.push({ id, value: this.b.subarray(this.off, this.off + length) });
      this.off += length;
    }
    return out;
  }
}

/**
 * The tag and total size of the message at the start of `buf`, from its first five bytes only
 * (the hub's splice reads no further), or undefined when fewer than five bytes are there.
 * Throws BadFrame on a length outside 1..MAX_MESSAGE_BYTES or an unknown tag.
 */
export function peekMessage(buf: Uint8Array): { kind: MessageKind; bytes: number } | undefined {
  if (buf.length < LENGTH_PREFIX_BYTES + 1) return undefined;
  const length = ((buf[0]! << 24) >>> 0) + (buf[1]! << 16) + (buf[2]! << 8) + buf[3]!;
  if (length < 1 || length > MAX_MESSAGE_BYTES) throw new HopError(ErrorCode.BadFrame, `bad message length ${length}`);
  const kind = TAG_TO_KIND.get(buf[LENGTH_PREFIX_BYTES]!);
  if (!kind) throw new HopError(ErrorCode.BadFrame, `unknown message tag ${buf[LENGTH_PREFIX_BYTES]}`);
  return { kind, bytes: LENGTH_PREFIX_BYTES + length };
}

/**
 * Decodes one whole message at the start of `buf`. Returns undefined when `buf` does not
 * yet hold a whole message; throws HopError(BadFrame) on malformed input.
 */
export function decodeMessage(buf: Uint8Array): { message: WireMessage; bytes: number } | undefined {
  if (buf.length < LENGTH_PREFIX_BYTES) return undefined;
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const length = b.readUInt32BE(0);
  if (length < 1 || length > MAX_MESSAGE_BYTES) throw new HopError(ErrorCode.BadFrame, `bad message length ${length}`);
  const end = LENGTH_PREFIX_BYTES + length;
  if (b.length < end) return undefined;
  const tag = b[LENGTH_PREFIX_BYTES]!;
  const kind = TAG_TO_KIND.get(tag);
  if (!kind) throw new HopError(ErrorCode.BadFrame, `unknown message tag ${tag}`);
  const r = new Reader(b, LENGTH_PREFIX_BYTES + 1, end, kind);
  let message: WireMessage;
  switch (kind) {
    case 'hello': {
      const client_id = r.str('client_id');
      const token = r.str('token');
      const agent_version = r.str('agent_version');
      const count = r.u16('services');
      const services: string[] = new Array(count);
      for (let i = 0; i < count; i++) services[i] = r.str('services');
      const instance = r.str('instance_id');
      const hello: Hello = { type: kind, client_id, token, agent_version, services };
      if (instance !== '') hello.instance_id = instance;
      message = hello;
      break;
    }
    case 'hello_ok':
      message = { type: kind, hub_id: r.str('hub_id'), epoch: r.u48('epoch') };
      break;
    case 'hello_reject':
    case 'go_away':
      message = { type: kind, code: r.code('code'), reason: r.str('reason') };
      break;
    case 'request_head': {
      const request_id = r.str('request_id');
      const service = r.str('service');
      const method = r.str('method');
      const path = r.str('path');
      const flags = r.u8('flags');
      message = { type: kind, request_id, service, method, path, has_body: (flags & FLAG_HAS_BODY) !== 0, headers: r.headers() };
      break;
    }
    case 'response_head': {
      const status = r.u16('status');
      if (status < 100 || status > 999) throw new HopError(ErrorCode.BadFrame, `malformed response_head: bad or missing "status"`);
      message = { type: kind, status, headers: r.headers() };
      break;
    }
    case 'stream_error':
      message = { type: kind, code: r.code('code'), message: r.str('message') };
      break;
  }
  const extensions = r.extensions();
  if (extensions) message.extensions = extensions;
  return { message, bytes: end };
}
