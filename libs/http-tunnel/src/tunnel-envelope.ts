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
  request: RequestHead;
}

/** Encoding: `[u16 client_id length][client_id][u16 route length][route][wire request_head]`. */
export function encodeTunnelOpen(open: TunnelOpen): Uint8Array {
  const id = Buffer.from(open.clientId, 'utf8');
  const route = Buffer.from(open.route, 'utf8');
  const head = encodeMessage(open.request);
  const out = Buffer.allocUnsafe(2 + id.length + 2 + route.length + head.length);
  let off = out.writeUInt16BE(id.length, 0);
  off += id.copy(out, off);
  off = out.writeUInt16BE(route.length, off);
  off += route.copy(out, off);
  head.copy(out, off);
  return out;
}

export function decodeTunnelOpen(bytes: Uint8Array): TunnelOpen {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string): never => {
    throw new HopError(ErrorCode.BadFrame, `malformed tunnel open: ${why}`);
  };
  if (b.length < 2) bad('truncated');
  const idLen = b.readUInt16BE(0);
  if (b.length < 2 + idLen + 2) bad('truncated client id');
  const clientId = b.toString('utf8', 2, 2 + idLen);
  const routeLen = b.readUInt16BE(2 + idLen);
  const headAt = 2 + idLen + 2 + routeLen;
  if (b.length < headAt) bad('truncated route');
  const route = b.toString('utf8', 2 + idLen + 2, headAt);
  const decoded = decodeMessage(b.subarray(headAt));
  if (!decoded || decoded.message.type !== 'request_head' || decoded.bytes !== b.length - headAt) bad('no request head');
  return { clientId, route, request: decoded!.message as RequestHead };
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
