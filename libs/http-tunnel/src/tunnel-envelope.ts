/**
 * What the ingress sends a hub when it opens a relay stream, and what the hub sends back
 * as the response head. JSON (small, once per request); the relay frames carry it as
 * opaque bytes.
 */
import { HopError, ErrorCode } from '@hopgate/errors';
import { decodeMessage, encodeMessage, type RequestHead, type ResponseHead } from '@hopgate/wire';

export interface TunnelOpen {
  /** The route's client: the hub looks up its session. */
  clientId: string;
  /** `<host><prefix>` of the matched route, for logs. */
  route: string;
  /** The agent instance the ingress chose (least streams in flight): the hub uses that session. */
  instanceId?: string;
  request: RequestHead;
}

/**
 * Set in the client id's u16 length when an instance id follows the route (a client id has at
 * most 64 bytes, so the bit is free; envelopes without it decode as before).
 */
const INSTANCE_FLAG = 0x8000;

/**
 * Encoding: `[u16 client_id length][client_id][u16 route length][route]` then, when the length
 * has INSTANCE_FLAG, `[u16 instance length][instance_id]`, then `[wire request_head]`.
 */
export function encodeTunnelOpen(open: TunnelOpen): Uint8Array {
  const id = Buffer.from(open.clientId, 'utf8');
  const route = Buffer.from(open.route, 'utf8');
  const instance = open.instanceId !== undefined ? Buffer.from(open.instanceId, 'utf8') : undefined;
  if (id.length >= INSTANCE_FLAG) throw new HopError(ErrorCode.BadFrame, 'client id too long for a tunnel open');
  const head = encodeMessage(open.request);
  const out = Buffer.allocUnsafe(2 + id.length + 2 + route.length + (instance ? 2 + instance.length : 0) + head.length);
  let off = out.writeUInt16BE(instance ? id.length | INSTANCE_FLAG : id.length, 0);
  off += id.copy(out, off);
  off = out.writeUInt16BE(route.length, off);
  off += route.copy(out, off);
  if (instance) {
    off = out.writeUInt16BE(instance.length, off);
    off += instance.copy(out, off);
  }
  head.copy(out, off);
  return out;
}

export function decodeTunnelOpen(bytes: Uint8Array): TunnelOpen {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string): never => {
    throw new HopError(ErrorCode.BadFrame, `malformed tunnel open: ${why}`);
  };
  if (b.length < 2) bad('truncated');
  const first = b.readUInt16BE(0);
  const idLen = first & ~INSTANCE_FLAG;
  if (b.length < 2 + idLen + 2) bad('truncated client id');
  const clientId = b.toString('utf8', 2, 2 + idLen);
  const routeLen = b.readUInt16BE(2 + idLen);
  const routeEnd = 2 + idLen + 2 + routeLen;
  if (b.length < routeEnd) bad('truncated route');
  const route = b.toString('utf8', 2 + idLen + 2, routeEnd);
  let headAt = routeEnd;
  let instanceId: string | undefined;
  if (first & INSTANCE_FLAG) {
    if (b.length < routeEnd + 2) bad('truncated instance id');
    const instanceLen = b.readUInt16BE(routeEnd);
    headAt = routeEnd + 2 + instanceLen;
    if (b.length < headAt) bad('truncated instance id');
    instanceId = b.toString('utf8', routeEnd + 2, headAt);
  }
  const decoded = decodeMessage(b.subarray(headAt));
  if (!decoded || decoded.message.type !== 'request_head' || decoded.bytes !== b.length - headAt) bad('no request head');
  return { clientId, route, ...(instanceId !== undefined ? { instanceId } : {}), request: decoded!.message as RequestHead };
}

export function encodeTunnelResponse(head: ResponseHead): Uint8Array {
  return encodeMessage(head);
}

export function decodeTunnelResponse(bytes: Uint8Array): ResponseHead {
  const decoded = decodeMessage(bytes);
  if (!decoded || decoded.message.type !== 'response_head') {
    throw new HopError(ErrorCode.BadFrame, 'malformed tunnel response head');
  }
  return decoded.message;
}
