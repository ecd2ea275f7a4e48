/** An IP address as network-order bytes: 4 for IPv4, 16 for IPv6. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

/** Bytes of an IPv4 address. */
export const IPV4_BYTES = 4;
/** Bytes of an IPv6 address. */
export const IPV6_BYTES = 16;
/** Longest IPv6 text accepted, in characters: eight 4-digit groups with an IPv4 tail is 45. */
export const MAX_IPV6_TEXT_CHARS = 45;

/** A decimal IPv4 part without leading zeros (they read as octal elsewhere; haproxy proxy-protocol.txt §2.1 forbids them too). */
const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;
/** Bytes 0-11 of an IPv4-mapped IPv6 address, ::ffff:0:0/96 (RFC 4291 §2.5.5.2). */
const IPV4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] as const;

/** Dotted-quad IPv4 (four decimal parts 0-255, no leading zeros), or undefined. */
export function parseIpv4(text: string): IpAddress | undefined {
  const parts = text.split('.');
  if (parts.length !== IPV4_BYTES) return undefined;
  const bytes = new Uint8Array(IPV4_BYTES);
  for (let i = 0; i < IPV4_BYTES; i++) {
    const part = parts[i]!;
    if (!IPV4_PART.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return { family: 4, bytes };
}

/**
 * IPv6 text (RFC 4291 §2.2): eight groups of 1-4 hex digits, at most one `::` for one or
 * more zero groups, optionally an IPv4 dotted quad as the last 32 bits. A zone id
 * (`fe80::1%eth0`, RFC 4007 §11) is dropped: it names an interface, not an address.
 */
export function parseIpv6(text: string): IpAddress | undefined {
  const zone = text.indexOf('%');
  const plain = zone >= 0 ? text.slice(0, zone) : text;
  if (plain.length === 0 || plain.length > MAX_IPV6_TEXT_CHARS) return undefined;
  const lastColon = plain.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  let head = plain;
  let ipv4Tail: Uint8Array | undefined;
  if (plain.indexOf('.', lastColon) >= 0) {
    const tail = parseIpv4(plain.slice(lastColon + 1));
    if (!tail) return undefined;
    ipv4Tail = tail.bytes;
    // Two placeholder groups stand for the 32 bits of the dotted tail.
    head = `${plain.slice(0, lastColon + 1)}0:0`;
  }
  const groups = ipv6Groups(head);
  if (!groups) return undefined;
  const bytes = new Uint8Array(IPV6_BYTES);
  groups.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  if (ipv4Tail) bytes.set(ipv4Tail, IPV6_BYTES - IPV4_BYTES);
  return { family: 6, bytes };
}

/** The eight 16-bit groups of IPv6 text without a dotted tail, `::` expanded. */
function ipv6Groups(text: string): number[] | undefined {
  const double = text.indexOf('::');
  if (double < 0) {
    const all = groupList(text);
    return all?.length === 8 ? all : undefined;
  }
  if (text.indexOf('::', double + 1) >= 0) return undefined;
  const left = groupList(text.slice(0, double));
  const right = groupList(text.slice(double + 2));
  if (!left || !right) return undefined;
  const zeros = 8 - left.length - right.length;
  // RFC 4291 §2.2: `::` stands for one or more groups of zeros.
  if (zeros < 1) return undefined;
  return [...left, ...new Array<number>(zeros).fill(0), ...right];
}

function groupList(text: string): number[] | undefined {
  if (text === '') return [];
  const out: number[] = [];
  for (const group of text.split(':')) {
    if (!IPV6_GROUP.test(group)) return undefined;
    out.push(parseInt(group, 16));
  }
  return out;
}

/** IPv4 or IPv6 text (no brackets, no port), or undefined. */
export function parseIp(text: string): IpAddress | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/** Whether an IPv6 address is IPv4-mapped, ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). */
export function isIpv4Mapped(address: IpAddress): boolean {
  return address.family === 6 && IPV4_MAPPED_PREFIX.every((b, i) => address.bytes[i] === b);
}

/**
 * The IPv4 address an IPv4-mapped IPv6 address stands for (a dual-stack socket reports an
 * IPv4 peer as ::ffff:a.b.c.d); any other address unchanged.
 */
export function unmapIpv4(address: IpAddress): IpAddress {
  if (!isIpv4Mapped(address)) return address;
  return { family: 4, bytes: address.bytes.slice(IPV6_BYTES - IPV4_BYTES) };
}

/**
 * Canonical text: dotted quad for IPv4; for IPv6 RFC 5952 §4 (lower case, no leading zeros,
 * the longest run of two or more zero groups as `::`, the first one on a tie) and §5
 * (IPv4-mapped addresses end in a dotted quad).
 */
export function formatIp(address: IpAddress): string {
  const b = address.bytes;
  if (address.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (isIpv4Mapped(address)) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < IPV6_BYTES; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let end = i;
    while (end < groups.length && groups[end] === 0) end += 1;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/**
 * One spelling per address: parsed, IPv4-mapped IPv6 turned into IPv4, canonical text;
 * undefined when `text` is not an IP address.
 */
export function normalizeIp(text: string): string | undefined {
  const address = parseIp(text);
  return address ? formatIp(unmapIpv4(address)) : undefined;
}
