export {
  parseIp,
  parseIpv4,
  parseIpv6,
  formatIp,
  normalizeIp,
  isIpv4Mapped,
  unmapIpv4,
  IPV4_BYTES,
  IPV6_BYTES,
  MAX_IPV6_TEXT_CHARS,
  type IpAddress,
} from './ip-address.js';
export { parseCidr, cidrContains, formatCidr, type Cidr } from './cidr.js';
export { AddressSet } from './address-set.js';
