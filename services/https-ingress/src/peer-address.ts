import type { Socket } from 'node:net';

/** RFC 4291 §2.5.5.2: an IPv4 address seen through a dual-stack IPv6 socket. */
const IPV4_MAPPED_PREFIX = '::ffff:';

/**
 * The address a public connection belongs to, for per-address limits and log lines: the TCP
 * peer address, an IPv4-mapped IPv6 address written as plain IPv4, so that one client counts
 * once on a dual-stack listener. Undefined once the socket is gone. The ingress asks this one
 * function (ingress.ts), so a client address from elsewhere (PROXY protocol) replaces it there.
 */
export function peerAddressOf(socket: Pick<Socket, 'remoteAddress'>): string | undefined {
  const address = socket.remoteAddress;
  if (address === undefined) return undefined;
  if (address.startsWith(IPV4_MAPPED_PREFIX) && address.includes('.')) return address.slice(IPV4_MAPPED_PREFIX.length);
  return address;
}
