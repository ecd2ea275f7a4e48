import { formatIp, parseIpv4, parseIpv6, unmapIpv4, IPV4_BYTES, IPV6_BYTES, type IpAddress } from '@hopgate/net-address';

/*
 * The PROXY protocol header a load balancer puts first on a TCP connection to name the
 * client's original connection (haproxy's doc/proxy-protocol.txt, "The PROXY protocol,
 * Versions 1 & 2"). Section numbers below are that document's.
 */

/** §2.1: a v1 header starts with "PROXY" and one space. */
export const PROXY_V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** §2.1: the longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses and ports), in bytes. */
export const PROXY_V1_MAX_BYTES = 107;
/** §2.2: the 12 bytes every v2 header starts with. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** §2.2: signature, version and command, family and transport, 16-bit length: the fixed part of a v2 header, in bytes. */
export const PROXY_V2_FIXED_BYTES = 16;
/**
 * Largest v2 header accepted (fixed part, addresses and TLVs), in bytes. The format allows
 * 16 + 65535; load balancers send 28 (IPv4) or 52 (IPv6) plus a few TLVs (AWS, Azure and
 * GCP endpoint ids, haproxy's TLS details): 4 KiB leaves room for all of them.
 */
export const MAX_PROXY_V2_HEADER_BYTES = 4096;

/** §2.2: address bytes of a v2 header per family: two addresses and two 16-bit ports. */
const V2_INET_ADDRESS_BYTES = 2 * IPV4_BYTES + 4;
const V2_INET6_ADDRESS_BYTES = 2 * IPV6_BYTES + 4;
/** §2.2, 13th byte: version 2 in the high nibble. */
const V2_VERSION = 0x2;
/** §2.2 commands (low nibble of the 13th byte). */
const V2_COMMAND_LOCAL = 0x0;
const V2_COMMAND_PROXY = 0x1;
/** §2.2 address families (high nibble of the 14th byte); 0x3 AF_UNIX is the highest defined. */
const V2_FAMILY_INET = 0x1;
const V2_FAMILY_INET6 = 0x2;
const V2_FAMILY_MAX = 0x3;
/** §2.2 transports (low nibble of the 14th byte): 0x1 STREAM; 0x2 DGRAM is the highest defined. */
const V2_TRANSPORT_STREAM = 0x1;
const V2_TRANSPORT_MAX = 0x2;
/** §2.1: a port is decimal, 0-65535, without leading zeros. */
const V1_PORT = /^(0|[1-9][0-9]{0,4})$/;
const MAX_PORT = 65_535;
const CR = 0x0d;
const LF = 0x0a;

/** One end of the original connection. */
export interface ProxyEndpoint {
  /** Canonical text; an IPv4-mapped IPv6 address is given as IPv4. */
  address: string;
  port: number;
}

export interface ProxyHeader {
  version: 1 | 2;
  /**
   * `proxy`: the connection is relayed for a client. `local` (v2 only, §2.2): the proxy's own
   * connection (a health check); the TCP connection's own ends count.
   */
  command: 'proxy' | 'local';
  /**
   * The client's end and the end it connected to. Absent when the header names no TCP/IP
   * ends (v1 UNKNOWN, v2 LOCAL, v2 AF_UNSPEC, AF_UNIX or DGRAM): then, as §2.1 and §2.2 ask
   * of a receiver, the TCP connection's own ends count.
   */
  source?: ProxyEndpoint;
  destination?: ProxyEndpoint;
}

export type ProxyHeaderParse =
  | { status: 'incomplete' }
  | { status: 'invalid'; reason: string }
  /** `length`: bytes of the header; what follows is the proxied connection's data. */
  | { status: 'complete'; header: ProxyHeader; length: number };

/**
 * Parses the PROXY protocol header at the start of `bytes` (v1 text or v2 binary, told apart
 * by their first bytes, §2.2 end). Incremental: call again with more bytes while it answers
 * `incomplete`, which it only does while the bytes so far can still start a valid header of
 * at most PROXY_V1_MAX_BYTES / MAX_PROXY_V2_HEADER_BYTES.
 */
export function parseProxyHeader(bytes: Buffer): ProxyHeaderParse {
  if (bytes.length === 0) return { status: 'incomplete' };
  if (startsLike(bytes, PROXY_V2_SIGNATURE)) return bytes.length < PROXY_V2_FIXED_BYTES ? { status: 'incomplete' } : parseV2(bytes);
  if (startsLike(bytes, PROXY_V1_PREFIX)) return bytes.length < PROXY_V1_PREFIX.length ? { status: 'incomplete' } : parseV1(bytes);
  return { status: 'invalid', reason: 'not a PROXY protocol header' };
}

/** Whether `bytes` and `prefix` agree on their common length. */
function startsLike(bytes: Buffer, prefix: Buffer): boolean {
  const n = Math.min(bytes.length, prefix.length);
  return bytes.subarray(0, n).equals(prefix.subarray(0, n));
}

/** §2.1: "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP srcport SP dstport CRLF, or "PROXY UNKNOWN" ... CRLF. */
function parseV1(bytes: Buffer): ProxyHeaderParse {
  const scan = Math.min(bytes.length, PROXY_V1_MAX_BYTES);
  let end = -1;
  for (let i = 0; i < scan; i++) {
    const b = bytes[i]!;
    if (b === CR) {
      if (i + 1 >= bytes.length) break;
      // §2.1: a CR alone never ends the line.
      if (bytes[i + 1] !== LF) return { status: 'invalid', reason: 'v1: CR without LF' };
      end = i;
      break;
    }
    if (b === LF) return { status: 'invalid', reason: 'v1: LF without CR' };
    if (b < 0x20 || b > 0x7e) return { status: 'invalid', reason: 'v1: a byte that is not printable US-ASCII' };
  }
  if (end < 0) {
    // §2.1: no CRLF within the first 107 bytes: invalid.
    return bytes.length >= PROXY_V1_MAX_BYTES ? { status: 'invalid', reason: `v1: no CRLF within ${PROXY_V1_MAX_BYTES} bytes` } : { status: 'incomplete' };
  }
  const length = end + 2;
  if (length > PROXY_V1_MAX_BYTES) return { status: 'invalid', reason: `v1: line longer than ${PROXY_V1_MAX_BYTES} bytes` };
  const fields = bytes.subarray(0, end).toString('latin1').split(' ');
  const protocol = fields[1];
  // §2.1: after UNKNOWN, the receiver ignores the rest of the line and uses the connection's own ends.
  if (protocol === 'UNKNOWN') return { status: 'complete', header: { version: 1, command: 'proxy' }, length };
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return { status: 'invalid', reason: 'v1: protocol is not TCP4, TCP6 or UNKNOWN' };
  if (fields.length !== 6) return { status: 'invalid', reason: 'v1: not exactly source, destination and two ports' };
  const parse = protocol === 'TCP4' ? parseIpv4 : parseIpv6;
  const source = parse(fields[2]!);
  const destination = parse(fields[3]!);
  const sourcePort = v1Port(fields[4]!);
  const destinationPort = v1Port(fields[5]!);
  if (!source || !destination) return { status: 'invalid', reason: `v1: an address is not ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'}` };
  if (sourcePort === undefined || destinationPort === undefined) return { status: 'invalid', reason: 'v1: a port is not 0-65535 without leading zeros' };
  return {
    status: 'complete',
    header: { version: 1, command: 'proxy', source: endpoint(source, sourcePort), destination: endpoint(destination, destinationPort) },
    length,
  };
}

function v1Port(text: string): number | undefined {
  if (!V1_PORT.test(text)) return undefined;
  const port = Number(text);
  return port <= MAX_PORT ? port : undefined;
}

/** §2.2: signature, ver_cmd, fam, len (big endian), then `len` bytes of addresses and TLVs. */
function parseV2(bytes: Buffer): ProxyHeaderParse {
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== V2_VERSION) return { status: 'invalid', reason: 'v2: version is not 2' };
  const command = versionCommand & 0x0f;
  // §2.2: commands other than LOCAL and PROXY are dropped.
  if (command !== V2_COMMAND_LOCAL && command !== V2_COMMAND_PROXY) return { status: 'invalid', reason: `v2: unknown command ${command}` };
  const family = bytes[13]! >> 4;
  const transport = bytes[13]! & 0x0f;
  if (family > V2_FAMILY_MAX || transport > V2_TRANSPORT_MAX) return { status: 'invalid', reason: 'v2: unknown address family or transport' };
  const length = PROXY_V2_FIXED_BYTES + bytes.readUInt16BE(14);
  if (length > MAX_PROXY_V2_HEADER_BYTES) return { status: 'invalid', reason: `v2: header of ${length} bytes, more than ${MAX_PROXY_V2_HEADER_BYTES}` };
  if (bytes.length < length) return { status: 'incomplete' };
  // §2.2: LOCAL: the real connection ends count; the address block (whatever its family) is skipped.
  if (command === V2_COMMAND_LOCAL) return { status: 'complete', header: { version: 2, command: 'local' }, length };
  const needed = family === V2_FAMILY_INET ? V2_INET_ADDRESS_BYTES : family === V2_FAMILY_INET6 ? V2_INET6_ADDRESS_BYTES : 0;
  if (length - PROXY_V2_FIXED_BYTES < needed) return { status: 'invalid', reason: 'v2: address block shorter than its family needs' };
  // §2.2: AF_UNSPEC, AF_UNIX and non-STREAM transports fall back to the UNSPEC mode: the connection's own ends.
  if (needed === 0 || transport !== V2_TRANSPORT_STREAM) return { status: 'complete', header: { version: 2, command: 'proxy' }, length };
  const size = family === V2_FAMILY_INET ? IPV4_BYTES : IPV6_BYTES;
  const at = PROXY_V2_FIXED_BYTES;
  const addressAt = (offset: number): IpAddress => ({ family: family === V2_FAMILY_INET ? 4 : 6, bytes: new Uint8Array(bytes.subarray(offset, offset + size)) });
  // What follows the addresses and ports, up to `length`, is TLVs (§2.2.1-2.2.8): skipped.
  return {
    status: 'complete',
    header: {
      version: 2,
      command: 'proxy',
      source: endpoint(addressAt(at), bytes.readUInt16BE(at + 2 * size)),
      destination: endpoint(addressAt(at + size), bytes.readUInt16BE(at + 2 * size + 2)),
    },
    length,
  };
}

function endpoint(address: IpAddress, port: number): ProxyEndpoint {
  return { address: formatIp(unmapIpv4(address)), port };
}
