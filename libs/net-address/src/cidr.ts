import { formatIp, isIpv4Mapped, parseIp, unmapIpv4, type IpAddress } from './ip-address.js';

/** An address range in CIDR notation (RFC 4632 §3.1 for IPv4, RFC 4291 §2.3 for IPv6). */
export interface Cidr {
  /** The first address of the range (host bits cleared). */
  readonly network: IpAddress;
  /** Leading bits that every address of the range shares: 0-32 (IPv4) or 0-128 (IPv6). */
  readonly prefixBits: number;
}

/** Bits of the ::ffff:0:0/96 prefix of IPv4-mapped addresses (RFC 4291 §2.5.5.2). */
const IPV4_MAPPED_PREFIX_BITS = 96;
const PREFIX_DIGITS = /^(0|[1-9][0-9]{0,2})$/;

/**
 * `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a range of one: /32 or /128).
 * Host bits after the prefix are ignored (`10.1.2.3/8` is `10.0.0.0/8`). An IPv4-mapped range
 * (`::ffff:10.0.0.0/104`) is the IPv4 range it maps. Undefined when `text` is neither.
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const parsed = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!parsed) return undefined;
  let prefixBits = parsed.bytes.length * 8;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (!PREFIX_DIGITS.test(digits)) return undefined;
    prefixBits = Number(digits);
    if (prefixBits > parsed.bytes.length * 8) return undefined;
  }
  let network = parsed;
  if (isIpv4Mapped(parsed) && prefixBits >= IPV4_MAPPED_PREFIX_BITS) {
    network = unmapIpv4(parsed);
    prefixBits -= IPV4_MAPPED_PREFIX_BITS;
  }
  return { network: masked(network, prefixBits), prefixBits };
}

/** `address` with every bit after the first `prefixBits` cleared. */
function masked(address: IpAddress, prefixBits: number): IpAddress {
  const bytes = address.bytes.slice();
  for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i]! & byteMask(prefixBits - i * 8);
  return { family: address.family, bytes };
}

/** The mask of one byte when `bits` of the prefix remain at its start (clamped to 0-8). */
function byteMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 8) return 0xff;
  return (0xff << (8 - bits)) & 0xff;
}

/** Whether `address` lies in `cidr`; an IPv4-mapped IPv6 address matches as the IPv4 one. */
export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  const candidate = unmapIpv4(address);
  if (candidate.family !== cidr.network.family) return false;
  for (let i = 0; i * 8 < cidr.prefixBits; i++) {
    const mask = byteMask(cidr.prefixBits - i * 8);
    if ((candidate.bytes[i]! & mask) !== cidr.network.bytes[i]) return false;
  }
  return true;
}

/** `network/prefix` in canonical text. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.network)}/${cidr.prefixBits}`;
}
