import type { IncomingMessage } from 'node:http';
import type { RequestHead } from '@hopgate/wire';
import { pairsFromRaw, stripHopByHop, withForwardedHeaders } from '@hopgate/http-tunnel';

/** `Host` without port, lower case (route matching ignores case and port). */
export function normalizedHost(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(0, end + 1) : host;
  }
  const colon = host.indexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** Path part of the request target, without query (routes match on it). */
export function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q >= 0 ? url.slice(0, q) : url;
}

export function hasBody(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

/** The request head the agent replays against the local service. */
export function buildRequestHead(
  req: IncomingMessage,
  requestId: string,
  service: string,
  proto: 'http' | 'https',
  keepHeaders: ReadonlySet<string> = new Set(),
): RequestHead {
  const headers = withForwardedHeaders(stripHopByHop(pairsFromRaw(req.rawHeaders), keepHeaders), {
    clientIp: req.socket.remoteAddress ?? '',
    proto,
    host: req.headers.host ?? '',
  });
  return {
    type: 'request_head',
    request_id: requestId,
    service,
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers,
    has_body: hasBody(req),
  };
}
