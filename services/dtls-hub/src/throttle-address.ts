import net from 'node:net';

/** IPv6 peers are throttled per prefix of this many bits: one subscriber usually holds a whole /64. */
export const THROTTLE_IPV6_PREFIX_BITS = 64;

/** 16-bit groups of an IPv6 address in the throttled prefix. */
const PREFIX_GROUPS = THROTTLE_IPV6_PREFIX_BITS / 16;

/**
 * The address a peer's failed logins are counted under: the IP of `remote` (`ip:port` or
 * `[ip6]:port`, as libs/dtls formats it); IPv4-mapped IPv6 as the IPv4 address; other IPv6
 * addresses as their /64 (`2001:db8:0:1::/64`), since anyone holding one address usually
 * holds the 2^64 around it.
 */
export function throttleAddressOf(remote: string): string {
  let host = remote;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end > 0 ? host.slice(1, end) : host.slice(1);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon > 0 && host.indexOf(':') === colon) host = host.slice(0, colon);
  }
  const zone = host.indexOf('%');
  if (zone >= 0) host = host.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(host);
  if (mapped) return mapped[1]!;
  if (!net.isIPv6(host)) return host;
  return `${ipv6Groups(host).slice(0, PREFIX_GROUPS).join(':')}::/${THROTTLE_IPV6_PREFIX_BITS}`;
}

/** The eight 16-bit groups of a valid IPv6 address, lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const split = (part: string): string[] => {
    if (part === '') return [];
    const groups = part.split(':');
    // A trailing dotted IPv4 part stands for two groups; only the prefix matters here.
    if (groups.at(-1)?.includes('.')) groups.splice(-1, 1, '0', '0');
    return groups;
  };
  const gap = address.indexOf('::');
  const head = split(gap >= 0 ? address.slice(0, gap) : address);
  const tail = gap >= 0 ? split(address.slice(gap + 2)) : [];
  const zeros = Array.from({ length: Math.max(0, 8 - head.length - tail.length) }, () => '0');
  return [...head, ...zeros, ...tail].map((group) => parseInt(group, 16).toString(16));
}
