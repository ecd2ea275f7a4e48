/**
 * The routing envelope: what an ingress puts in front of the request head in a relay OPEN
 * (docs/nats.md), and all a hub reads of it. Layout:
 *   `[u8 flags][string client_id][string instance_id ("" = any instance)][string route][request_head message]`
 * flags bit 0: the request has a body (the hub pipes it; without it the hub ends the agent's
 * stream right after the head).
 * (strings as in codec.ts: u16 length + UTF-8). The request_head message is the exact bytes the
 * agent reads from its stream: the hub checks its framing (length and tag, peekMessage) and
 * writes it on unchanged, a splice; it never decodes or re-encodes a head. The response head
 * goes back the same way, the agent's bytes in the relay RESPONSE frame.
 */
import { HopError, ErrorCode } from '@hopgate/errors';
import { MAX_STRING_BYTES, peekMessage } from './codec.js';

export interface RelayEnvelope {
  /** The route's client: the hub looks up its session. */
  clientId: string;
  /** The agent instance the ingress chose; absent: any live session of the client. */
  instanceId?: string;
  /** `<host><prefix>` of the matched route, for logs. */
  route: string;
  /** Whether request body bytes follow on the relay stream (the head's has_body). */
  hasBody: boolean;
}

/** Envelope flag: the request has a body. */
const FLAG_HAS_BODY = 0x01;

export function encodeRelayOpen(envelope: RelayEnvelope, requestHead: Uint8Array): Buffer {
  const id = Buffer.from(envelope.clientId, 'utf8');
  const instance = Buffer.from(envelope.instanceId ?? '', 'utf8');
  const route = Buffer.from(envelope.route, 'utf8');
  for (const [field, b] of [['client_id', id], ['instance_id', instance], ['route', route]] as const) {
    if (b.length > MAX_STRING_BYTES) throw new HopError(ErrorCode.BadFrame, `envelope field "${field}" too long`);
  }
  const out = Buffer.allocUnsafe(1 + 6 + id.length + instance.length + route.length + requestHead.byteLength);
  out[0] = envelope.hasBody ? FLAG_HAS_BODY : 0;
  let off = out.writeUInt16BE(id.length, 1);
  off += id.copy(out, off);
  off = out.writeUInt16BE(instance.length, off);
  off += instance.copy(out, off);
  off = out.writeUInt16BE(route.length, off);
  off += route.copy(out, off);
  out.set(requestHead, off);
  return out;
}

/**
 * The envelope of a relay OPEN and its request head (a view, not a copy). Throws BadFrame when
 * the envelope is truncated or the rest is not exactly one request_head message by its framing.
 */
export function decodeRelayOpen(bytes: Uint8Array): { envelope: RelayEnvelope; head: Uint8Array } {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 1) throw new HopError(ErrorCode.BadFrame, 'malformed relay envelope: empty');
  const flags = b[0]!;
  let off = 1;
  const str = (field: string): string => {
    if (off + 2 > b.length) throw new HopError(ErrorCode.BadFrame, `malformed relay envelope: truncated ${field}`);
    const n = b.readUInt16BE(off);
    if (off + 2 + n > b.length) throw new HopError(ErrorCode.BadFrame, `malformed relay envelope: truncated ${field}`);
    const s = b.toString('utf8', off + 2, off + 2 + n);
    off += 2 + n;
    return s;
  };
  const clientId = str('client_id');
  const instanceId = str('instance_id');
  const route = str('route');
  const head = b.subarray(off);
  const framing = peekMessage(head);
  if (!framing || framing.kind !== 'request_head' || framing.bytes !== head.length) {
    throw new HopError(ErrorCode.BadFrame, 'malformed relay envelope: not followed by exactly one request head');
  }
  return { envelope: { clientId, route, hasBody: (flags & FLAG_HAS_BODY) !== 0, ...(instanceId !== '' ? { instanceId } : {}) }, head };
}
