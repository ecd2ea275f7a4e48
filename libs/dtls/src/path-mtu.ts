import fs from 'node:fs';
import path from 'node:path';
import { PROBE_DATAGRAM_SIZES_BYTES, AES_128_GCM_RECORD_OVERHEAD_BYTES } from './constants.js';

/** Where Linux lists network interfaces, each with `mtu` and `operstate` files. */
const SYS_CLASS_NET = '/sys/class/net';
/** IPv6 (40) + UDP (8) header bytes: what an MTU holds beyond the UDP payload (IPv4 needs 28). */
const IPV6_UDP_HEADER_BYTES = 48;

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

/**
 * The smallest MTU of this machine's network interfaces that are not down, loopback aside
 * (Linux: /sys/class/net/<if>/mtu); undefined when it cannot be read (not Linux). A datagram
 * larger than the outgoing interface's MTU would be fragmented by the kernel before it even
 * leaves (a Kubernetes overlay often has 1450, some VMs 1400).
 */
export function smallestInterfaceMtu(sysClassNet: string = SYS_CLASS_NET): number | undefined {
  let smallest: number | undefined;
  let names: string[];
  try {
    names = fs.readdirSync(sysClassNet);
  } catch {
    return undefined;
  }
  for (const name of names) {
    if (name === 'lo') continue;
    try {
      const state = fs.readFileSync(path.join(sysClassNet, name, 'operstate'), 'utf8').trim();
      if (state === 'down') continue;
      const mtu = Number(fs.readFileSync(path.join(sysClassNet, name, 'mtu'), 'utf8').trim());
      if (Number.isSafeInteger(mtu) && mtu > 0 && (smallest === undefined || mtu < smallest)) smallest = mtu;
    } catch {
      // An interface that vanished while listing: skip it.
    }
  }
  return smallest;
}

/**
 * The `probeDatagramSizes` a link to `remote` offers the transport. To a peer on another
 * machine: sizes whose UDP payload fits MAX_REMOTE_PROBE_UDP_PAYLOAD_BYTES and the smallest
 * local interface MTU; none when that MTU is unknown (the base size is safe everywhere).
 */
export function probeDatagramSizesFor(remote: string): readonly number[] {
  return isLoopbackRemote(remote) ? PROBE_DATAGRAM_SIZES_BYTES : probeDatagramSizesForMtu(remote, smallestInterfaceMtu());
}

/** probeDatagramSizesFor with the interface MTU given (undefined: unknown). */
export function probeDatagramSizesForMtu(remote: string, interfaceMtu: number | undefined): readonly number[] {
  if (isLoopbackRemote(remote)) return PROBE_DATAGRAM_SIZES_BYTES;
  if (interfaceMtu === undefined) return [];
  const maxUdpPayload = Math.min(MAX_REMOTE_PROBE_UDP_PAYLOAD_BYTES, interfaceMtu - IPV6_UDP_HEADER_BYTES);
  const fitting = PROBE_DATAGRAM_SIZES_BYTES.filter((size) => size + AES_128_GCM_RECORD_OVERHEAD_BYTES <= maxUdpPayload);
  // Below the ladder's first rung (an MTU under 1500), the largest payload the interface carries whole.
  const ownSize = maxUdpPayload - AES_128_GCM_RECORD_OVERHEAD_BYTES;
  return fitting.length > 0 ? fitting : [ownSize];
}
