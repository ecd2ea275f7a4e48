import { cidrContains, formatCidr, parseCidr, type Cidr } from './cidr.js';
import { parseIp, type IpAddress } from './ip-address.js';

/**
 * A set of address ranges (e.g. HOPGATE_TRUSTED_PROXIES): whether an address belongs to
 * one of them. A linear scan: the lists operators write hold a handful of ranges.
 */
export class AddressSet {
  /** The set with no address in it. */
  static readonly EMPTY = new AddressSet([]);

  constructor(readonly ranges: readonly Cidr[]) {}

  /**
   * The set of a comma-separated list of CIDRs and bare addresses (blanks around entries and
   * empty entries ignored), or the first entry that is neither.
   */
  static parse(list: string): AddressSet | { invalidEntry: string } {
    const ranges: Cidr[] = [];
    for (const raw of list.split(',')) {
      const entry = raw.trim();
      if (entry === '') continue;
      const cidr = parseCidr(entry);
      if (!cidr) return { invalidEntry: entry };
      ranges.push(cidr);
    }
    return new AddressSet(ranges);
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  /** Whether a range is a /0: all of IPv4 (`0.0.0.0/0`) or all of IPv6 (`::/0`). */
  get hasCatchAll(): boolean {
    return this.ranges.some((range) => range.prefixBits === 0);
  }

  /** Whether `address` (text or parsed) is in one of the ranges; text that is no IP address is in none. */
  contains(address: string | IpAddress): boolean {
    if (this.ranges.length === 0) return false;
    const parsed = typeof address === 'string' ? parseIp(address) : address;
    if (!parsed) return false;
    return this.ranges.some((range) => cidrContains(range, parsed));
  }

  /** The ranges in canonical CIDR text, comma-separated (for logs). */
  toString(): string {
    return this.ranges.map(formatCidr).join(',');
  }
}
