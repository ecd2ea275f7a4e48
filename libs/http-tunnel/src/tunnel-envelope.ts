/**
 * What the ingress sends a hub when it opens a relay stream (the routing envelope of
 * @hopgate/wire in front of the binary request head), and the response head the hub passes
 * back. The relay frames carry both as opaque bytes; the hub reads only the envelope.
 */
import { HopError, ErrorCode } from '@hopgate/errors';
import { decodeMessage, decodeRelayOpen, encodeMessage, encodeRelayOpen, type RequestHead, type ResponseHead } from '@hopgate/wire';

export interface TunnelOpen {
  /** The route's client: the hub looks up its session. */
  clientId: string;
  /** `<host><prefix>` of the matched route, for logs. */
  route: string;
  /** The agent instance the ingress chose (least streams in flight): the hub uses that session. */
  instanceId?: string;
  request: RequestHead;
}

export function encodeTunnelOpen(open: TunnelOpen): Uint8Array {
  return encodeRelayOpen({ clientId: open.clientId, route: open.route, hasBody: open.request.has_body, ...(open.instanceId !== undefined ? { instanceId: open.instanceId } : {}) }, encodeMessage(open.request));
}

/** The whole OPEN, head decoded too (the hub never needs this: it splices the head). */
export function decodeTunnelOpen(bytes: Uint8Array): TunnelOpen {
  const { envelope, head } = decodeRelayOpen(bytes);
  const decoded = decodeMessage(head);
  if (!decoded || decoded.message.type !== 'request_head') throw new HopError(ErrorCode.BadFrame, 'malformed tunnel open: no request head');
  if (decoded.message.has_body !== envelope.hasBody) throw new HopError(ErrorCode.BadFrame, 'malformed tunnel open: envelope and head disagree on the body');
  return { clientId: envelope.clientId, route: envelope.route, ...(envelope.instanceId !== undefined ? { instanceId: envelope.instanceId } : {}), request: decoded.message };
}

export function encodeTunnelResponse(head: ResponseHead): Uint8Array {
  return encodeMessage(head);
}

export function decodeTunnelResponse(bytes: Uint8Array): ResponseHead {
  const decoded = decodeMessage(bytes);
  if (!decoded || decoded.message.type !== 'response_head' || decoded.bytes !== bytes.byteLength) {
    throw new HopError(ErrorCode.BadFrame, 'malformed tunnel response head');
  }
  return decoded.message;
}
