/**
 * Encoding of wire messages: `[u32 length][u8 tag][JSON payload]`, length (big endian)
 * counting tag + payload. JSON to start, as the seed design allows; the tag and the
 * preface version leave room for a binary encoding later.
 */
import { HopError, ErrorCode, isErrorCode } from '@hopgate/errors';
import { MessageTag, WIRE_MAGIC, WIRE_VERSION, type Hello, type MessageKind, type WireMessage, type HeaderPairs } from './messages.js';

/** Largest encoded message (tag + payload) accepted, in bytes: bounds header sizes. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Bytes of the length prefix. */
export const LENGTH_PREFIX_BYTES = 4;
/** Preface: 4 magic bytes + u16 version. */
export const PREFACE_BYTES = 6;

const TAG_TO_KIND = new Map<number, MessageKind>(
  Object.entries(MessageTag).map(([kind, tag]) => [tag, kind as MessageKind]),
);

export function encodePreface(version: number = WIRE_VERSION): Buffer {
  const buf = Buffer.alloc(PREFACE_BYTES);
  buf.write(WIRE_MAGIC, 0, 'latin1');
  buf.writeUInt16BE(version, 4);
  return buf;
}

/** Checks a preface; throws BadVersion on a wrong magic or an unsupported version. */
export function decodePreface(buf: Uint8Array): number {
  if (buf.length < PREFACE_BYTES) throw new HopError(ErrorCode.BadFrame, 'truncated preface');
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.toString('latin1', 0, 4) !== WIRE_MAGIC) throw new HopError(ErrorCode.BadVersion, 'bad wire magic: not a HopGate peer');
  const version = b.readUInt16BE(4);
  if (version !== WIRE_VERSION) {
    throw new HopError(ErrorCode.BadVersion, `unsupported wire version ${version} (this side speaks ${WIRE_VERSION})`);
  }
  return version;
}

export function encodeMessage(msg: WireMessage): Buffer {
  const tag = MessageTag[msg.type];
  const { type: _type, ...payload } = msg;
  const json = Buffer.from(JSON.stringify(payload), 'utf8');
  const length = 1 + json.length;
  if (length > MAX_MESSAGE_BYTES) throw new HopError(ErrorCode.BadFrame, `message too large: ${length} bytes`);
  const out = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + length);
  out.writeUInt32BE(length, 0);
  out[LENGTH_PREFIX_BYTES] = tag;
  json.copy(out, LENGTH_PREFIX_BYTES + 1);
  return out;
}

/**
 * Decodes one whole message at the start of `buf`. Returns undefined when `buf` does not
 * yet hold a whole message; throws HopError(BadFrame) on malformed input.
 */
export function decodeMessage(buf: Uint8Array): { message: WireMessage; bytes: number } | undefined {
  if (buf.length < LENGTH_PREFIX_BYTES) return undefined;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const length = b.readUInt32BE(0);
  if (length < 1 || length > MAX_MESSAGE_BYTES) throw new HopError(ErrorCode.BadFrame, `bad message length ${length}`);
  if (b.length < LENGTH_PREFIX_BYTES + length) return undefined;
  const tag = b[LENGTH_PREFIX_BYTES]!;
  const kind = TAG_TO_KIND.get(tag);
  if (!kind) throw new HopError(ErrorCode.BadFrame, `unknown message tag ${tag}`);
  let payload: unknown;
  try {
    payload = JSON.parse(b.toString('utf8', LENGTH_PREFIX_BYTES + 1, LENGTH_PREFIX_BYTES + length));
  } catch (err) {
    throw new HopError(ErrorCode.BadFrame, `malformed ${kind} payload`, { cause: err });
  }
  return { message: validate(kind, payload), bytes: LENGTH_PREFIX_BYTES + length };
}

function fail(kind: string, field: string): never {
  throw new HopError(ErrorCode.BadFrame, `malformed ${kind}: bad or missing "${field}"`);
}

function str(kind: string, obj: Record<string, unknown>, field: string): string {
  const v = obj[field];
  if (typeof v !== 'string') fail(kind, field);
  return v;
}

function num(kind: string, obj: Record<string, unknown>, field: string): number {
  const v = obj[field];
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(kind, field);
  return v;
}

function bool(kind: string, obj: Record<string, unknown>, field: string): boolean {
  const v = obj[field];
  if (typeof v !== 'boolean') fail(kind, field);
  return v;
}

function code(obj: Record<string, unknown>): ErrorCode {
  const v = obj['code'];
  return isErrorCode(v) ? v : ErrorCode.Internal;
}

function headers(kind: string, obj: Record<string, unknown>): HeaderPairs {
  const v = obj['headers'];
  if (!Array.isArray(v)) fail(kind, 'headers');
  for (const pair of v) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') fail(kind, 'headers');
  }
  return v as HeaderPairs;
}

function validate(kind: MessageKind, payload: unknown): WireMessage {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) fail(kind, '(object)');
  const o = payload as Record<string, unknown>;
  switch (kind) {
    case 'hello': {
      const services = o['services'];
      if (!Array.isArray(services) || !services.every((s) => typeof s === 'string')) fail(kind, 'services');
      const hello: Hello = { type: kind, client_id: str(kind, o, 'client_id'), token: str(kind, o, 'token'), agent_version: str(kind, o, 'agent_version'), services: services as string[] };
      if (o['instance_id'] !== undefined) hello.instance_id = str(kind, o, 'instance_id');
      return hello;
    }
    case 'hello_ok':
      return { type: kind, hub_id: str(kind, o, 'hub_id'), epoch: num(kind, o, 'epoch') };
    case 'hello_reject':
      return { type: kind, code: code(o), reason: str(kind, o, 'reason') };
    case 'request_head':
      return { type: kind, request_id: str(kind, o, 'request_id'), service: str(kind, o, 'service'), method: str(kind, o, 'method'), path: str(kind, o, 'path'), headers: headers(kind, o), has_body: bool(kind, o, 'has_body') };
    case 'response_head': {
      const status = num(kind, o, 'status');
      if (status < 100 || status > 999) fail(kind, 'status');
      return { type: kind, status, headers: headers(kind, o) };
    }
    case 'stream_error':
      return { type: kind, code: code(o), message: str(kind, o, 'message') };
    case 'go_away':
      return { type: kind, code: code(o), reason: str(kind, o, 'reason') };
  }
}
