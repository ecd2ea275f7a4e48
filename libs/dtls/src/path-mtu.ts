import { PROBE_DATAGRAM_SIZES_BYTES, AES_128_GCM_RECORD_OVERHEAD_BYTES } from './constants.js';

/**
 * Largest UDP payload offered for path MTU discovery to a peer that is not on this machine:
 * a 1500-byte Ethernet MTU less IPv6 (40) and UDP (8) headers. Node cannot set
 * IP_PMTUDISC_PROBE (don't fragment) on a UDP socket, and Linux fragments a datagram that is
 * larger than the outgoing interface's MTU, so a larger probe could "pass" as IP fragments,
 * which a single lost fragment destroys (RFC 8899 §3 requires probes not to be fragmented).
 * Jumbo-frame and loopback sizes are therefore only offered to a peer on loopback, whose MTU
 * (65,536) carries every size whole.
 */
export const MAX_REMOTE_PROBE_UDP_PAYLOAD_BYTES = 1452;

/** True for 127.0.0.0/8 and ::1 in the "ip:port" / "[ip6]:port" form the links use. */
export function isLoopbackRemote(remote: string): boolean {
  return remote.startsWith('127.') || remote.startsWith('[::1]') || remote.startsWith('[::ffff:127.');
}

/** The `probeDatagramSizes` a link to `remote` offers the transport. */
export function probeDatagramSizesFor(remote: string): readonly number[] {
  if (isLoopbackRemote(remote)) return PROBE_DATAGRAM_SIZES_BYTES;
  return PROBE_DATAGRAM_SIZES_BYTES.filter((size) => size + AES_128_GCM_RECORD_OVERHEAD_BYTES <= MAX_REMOTE_PROBE_UDP_PAYLOAD_BYTES);
}
