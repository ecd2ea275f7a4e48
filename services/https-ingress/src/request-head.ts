import type { RequestHead, HeaderPairs } from '@hopgate/wire';
import { pairsFromRaw, stripHopByHop, withForwardedHeaders, type RequestClient } from '@hopgate/http-tunnel';
import { isHttp2, type PublicRequest } from './public-http.js';

/** Where a request goes: the authority the browser named and the path + query, byte for byte. */
export interface RequestTarget {
  authority: string;
  path: string;
}

/** Absolute-form request target (RFC 9112 §3.2.2): scheme, authority, then the rest untouched. */
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)(.*)$/is;

/**
 * The authority and origin-form path of a request, or a reason to refuse it (400).
 * HTTP/2 names the authority in `:authority` (RFC 9113 §8.3.1); HTTP/1.1 in Host, or in an
 * absolute-form target that then wins over Host (RFC 9112 §3.2.2). Both come back as sent;
 * admitRequest parses the authority and normalises the path.
 */
export function requestTarget(req: PublicRequest): RequestTarget | { error: string } {
  const url = req.url ?? '';
  if (isHttp2(req)) {
    const authority = req.headers[':authority'];
    const host = req.headers.host;
    // (A Host that disagrees with :authority is refused by admitRequest, which parses both.)
    const named = typeof authority === 'string' && authority ? authority : host;
    if (!named) return { error: 'no :authority' };
    if (!url.startsWith('/')) return { error: `request target "${url.slice(0, 64)}" is not supported (origin-form only)` };
    return { authority: named, path: url };
  }
  // RFC 9112 §3.2: exactly one Host header in HTTP/1.1.
  if (countHeader(req.rawHeaders, 'host') > 1) return { error: 'more than one Host header' };
  const absolute = ABSOLUTE_FORM.exec(url);
  if (absolute) {
    const authority = absolute[1] ?? '';
    const rest = absolute[2] ?? '';
    if (!authority || authority.includes('@')) return { error: 'absolute-form target without a plain authority' };
    return { authority, path: rest.startsWith('/') ? rest : `/${rest}` };
  }
  if (!url.startsWith('/')) return { error: `request target "${url.slice(0, 64)}" is not supported` };
  const host = req.headers.host;
  if (!host) return { error: 'missing Host header' };
  return { authority: host, path: url };
}

function countHeader(raw: readonly string[], name: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) n += 1;
  return n;
}

/** Octets each header field adds to an HTTP/2 header list besides its name and value (RFC 9113 §6.5.2). */
export const H2_HEADER_FIELD_OVERHEAD_BYTES = 32;

/** The size of a header list as SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113 §6.5.2), pseudo-headers included. */
export function headerListSize(raw: readonly string[]): number {
  let size = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) size += raw[i]!.length + raw[i + 1]!.length + H2_HEADER_FIELD_OVERHEAD_BYTES;
  return size;
}

/** Whether a request body follows the head. */
export function hasBody(req: PublicRequest): boolean {
  const cl = req.headers['content-length'];
  if (isHttp2(req)) {
    // HTTP/2: END_STREAM on HEADERS means no body (RFC 9113 §8.1).
    return !req.stream.endAfterHeaders && cl !== '0';
  }
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  return cl !== undefined && cl !== '0';
}

/**
 * Request headers the ingress never forwards besides hop-by-hop ones: `host` (set again from
 * the target's authority) and `expect` (the ingress answers 100-continue itself,
 * RFC 9110 §10.1.1; undici also refuses the header).
 */
const ANSWERED_AT_EDGE: ReadonlySet<string> = new Set(['host', 'expect']);

/** The header pairs the origin receives: pseudo-headers dropped, cookie crumbs joined, Host from the authority. */
export function forwardableHeaders(req: PublicRequest, authority: string, keepHeaders: ReadonlySet<string> = new Set()): HeaderPairs {
  const h2 = isHttp2(req);
  const pairs: HeaderPairs = [['host', authority]];
  const crumbs: string[] = [];
  for (const pair of pairsFromRaw(req.rawHeaders)) {
    const name = pair[0];
    if (name.startsWith(':') || ANSWERED_AT_EDGE.has(name)) continue;
    // RFC 9113 §8.2.3: HTTP/2 may split Cookie; it is joined with "; " before HTTP/1.1.
    if (h2 && name === 'cookie') crumbs.push(pair[1]);
    else pairs.push(pair);
  }
  if (crumbs.length > 0) pairs.push(['cookie', crumbs.join('; ')]);
  // `Connection: host` must not make the origin lose the Host it routes on.
  return stripHopByHop(pairs, new Set([...keepHeaders, 'host']));
}

/**
 * The request head the agent replays against the local service; the forwarding headers are
 * the ingress's own, for `client` (requestClientOf).
 */
export function buildRequestHead(
  req: PublicRequest,
  target: RequestTarget,
  requestId: string,
  service: string,
  client: RequestClient,
  keepHeaders: ReadonlySet<string> = new Set(),
): RequestHead {
  const headers = withForwardedHeaders(forwardableHeaders(req, target.authority, keepHeaders), client, target.authority);
  return {
    type: 'request_head',
    request_id: requestId,
    service,
    method: req.method ?? 'GET',
    path: target.path,
    headers,
    has_body: hasBody(req),
  };
}
