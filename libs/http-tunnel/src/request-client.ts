import type { HeaderPairs } from '@hopgate/wire';
import { normalizeIp, type AddressSet } from '@hopgate/net-address';

/** How a request reached the ingress. */
export interface Arrival {
  /**
   * The immediate peer: the TCP peer, or the PROXY protocol source address when the TCP
   * peer is a trusted proxy that sent one.
   */
  peerIp: string;
  /** `https` or `http`: the listener the request came in on. */
  proto: 'http' | 'https';
  /** The public port the client connected to: the PROXY destination port, else the listener's port. */
  port: number;
  /** HOPGATE_TRUSTED_PROXIES: peers whose X-Forwarded-For is believed. */
  trustedProxies: AddressSet;
}

/** What the ingress concluded about where a request comes from: the forwarding headers it sets. */
export interface RequestClient {
  /** The client's address (canonical text): for logs (`client_ip`), X-Real-IP and Forwarded `for=`. */
  clientIp: string;
  /** The X-Forwarded-For the origin gets: a trusted peer's list with the peer appended, else the peer alone. */
  forwardedFor: string;
  /** X-Forwarded-Proto: the listener's, or a trusted peer's single `http`/`https`. */
  proto: 'http' | 'https';
  /** X-Forwarded-Port: the arrival's, or a trusted peer's single port. */
  port: number;
}

/** Highest TCP port number. */
const MAX_PORT = 65_535;
const PORT_DIGITS = /^[1-9][0-9]{0,4}$/;

/**
 * Resolves the client of a request. From an untrusted peer, nothing the request says is
 * believed: the peer is the client. From a peer in `trustedProxies`, its X-Forwarded-For is
 * kept and the peer appended, and the client is the right-most address of that list that is
 * not itself a trusted proxy (nginx's `real_ip_recursive on`): every address right of it was
 * appended by a proxy we trust, the ones left of it were sent by the client and may be lies.
 * An entry that is not an IP address ends the walk at the trusted hop right of it. A trusted
 * peer's X-Forwarded-Proto and X-Forwarded-Port are kept when they hold one valid value (a
 * load balancer that terminated TLS knows the client's scheme and port).
 */
export function requestClient(headers: HeaderPairs, arrival: Arrival): RequestClient {
  const peer = normalizeIp(arrival.peerIp) ?? arrival.peerIp;
  const own: RequestClient = { clientIp: peer, forwardedFor: peer, proto: arrival.proto, port: arrival.port };
  if (!arrival.trustedProxies.contains(peer)) return own;
  const chain = listEntries(headers, 'x-forwarded-for');
  let clientIp = peer;
  for (let i = chain.length - 1; i >= 0; i--) {
    const address = entryAddress(chain[i]!);
    if (address === undefined) break;
    clientIp = address;
    if (!arrival.trustedProxies.contains(address)) break;
  }
  const proto = singleEntry(headers, 'x-forwarded-proto')?.toLowerCase();
  const port = singleEntry(headers, 'x-forwarded-port');
  return {
    clientIp,
    forwardedFor: [...chain, peer].join(', '),
    proto: proto === 'http' || proto === 'https' ? proto : arrival.proto,
    port: port !== undefined && PORT_DIGITS.test(port) && Number(port) <= MAX_PORT ? Number(port) : arrival.port,
  };
}

/** The comma-separated entries of every field named `name` (RFC 9110 §5.3: repeated fields are one list), trimmed, empty ones dropped. */
function listEntries(headers: HeaderPairs, name: string): string[] {
  const out: string[] = [];
  for (const [n, value] of headers) {
    if (n !== name) continue;
    for (const entry of value.split(',')) {
      const trimmed = entry.trim();
      if (trimmed !== '') out.push(trimmed);
    }
  }
  return out;
}

function singleEntry(headers: HeaderPairs, name: string): string | undefined {
  const entries = listEntries(headers, name);
  return entries.length === 1 ? entries[0] : undefined;
}

/**
 * The address of one X-Forwarded-For entry in canonical text: `192.0.2.1`, `192.0.2.1:4711`,
 * `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711` (some proxies add the port);
 * undefined for anything else (`unknown`, obfuscated identifiers, garbage).
 */
export function entryAddress(entry: string): string | undefined {
  if (entry.startsWith('[')) {
    const end = entry.indexOf(']');
    if (end < 0) return undefined;
    const rest = entry.slice(end + 1);
    if (rest !== '' && !/^:[0-9]{1,5}$/.test(rest)) return undefined;
    return normalizeIp(entry.slice(1, end));
  }
  const colon = entry.indexOf(':');
  if (colon >= 0 && colon === entry.lastIndexOf(':')) {
    // One colon: IPv4 with a port.
    if (!/^[0-9]{1,5}$/.test(entry.slice(colon + 1))) return undefined;
    const host = entry.slice(0, colon);
    return host.includes('.') ? normalizeIp(host) : undefined;
  }
  return normalizeIp(entry);
}
