import type { HeaderPairs } from '@hopgate/wire';
import { parseIp } from '@hopgate/net-address';
import type { RequestClient } from './request-client.js';

/**
 * Request headers that tell an origin where a request came from. A client on the internet
 * can send any of them, so none reaches an origin as sent: the ingress drops them all and
 * sets its own (withForwardedHeaders). Besides these names, every `x-forwarded-*` header.
 */
export const FORWARDING_HEADERS: ReadonlySet<string> = new Set([
  'forwarded',
  'forwarded-for',
  'x-forwarded',
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-original-forwarded-for',
]);

/** Prefix of the de-facto X-Forwarded-* family (For, Proto, Host, Port, Prefix, Ssl, Server...). */
const X_FORWARDED_PREFIX = 'x-forwarded-';

/** Whether a (lower-case) header name is one the ingress drops and sets itself. */
export function isForwardingHeader(name: string): boolean {
  return FORWARDING_HEADERS.has(name) || name.startsWith(X_FORWARDED_PREFIX);
}

/** RFC 9110 §5.6.2 tchar: a value made of these needs no quotes. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A Forwarded parameter value (RFC 7239 §4): a token as is, else a quoted-string (RFC 9110 §5.6.4). */
function forwardedValue(value: string): string {
  return TOKEN.test(value) ? value : `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** A Forwarded node (RFC 7239 §6): an IPv6 address in brackets (§6.1), `unknown` when not known (§6.2). */
function forwardedNode(address: string): string {
  if (address === '') return 'unknown';
  return parseIp(address)?.family === 6 ? `[${address}]` : address;
}

/** The one Forwarded element the ingress sends (RFC 7239 §4): `for=<client>;proto=<proto>;host=<host>`. */
export function forwardedElement(client: RequestClient, host: string): string {
  return `for=${forwardedValue(forwardedNode(client.clientIp))};proto=${client.proto};host=${forwardedValue(host)}`;
}

/**
 * The headers an origin gets about the request's origin, all of them what the ingress
 * concluded (requestClient), never what the client sent: every forwarding header of the
 * request is dropped (isForwardingHeader), then X-Forwarded-For, X-Forwarded-Proto,
 * X-Forwarded-Host (`host`: the authority the request was routed on), X-Forwarded-Port,
 * X-Real-IP (the client address) and Forwarded (one element naming the client) are set.
 * The `Host` header is left as it is.
 */
export function withForwardedHeaders(headers: HeaderPairs, client: RequestClient, host: string): HeaderPairs {
  const out: HeaderPairs = headers.filter(([name]) => !isForwardingHeader(name));
  if (client.forwardedFor !== '') out.push(['x-forwarded-for', client.forwardedFor]);
  out.push(['x-forwarded-proto', client.proto]);
  out.push(['x-forwarded-host', host]);
  if (client.port > 0) out.push(['x-forwarded-port', String(client.port)]);
  if (client.clientIp !== '') out.push(['x-real-ip', client.clientIp]);
  out.push(['forwarded', forwardedElement(client, host)]);
  return out;
}
