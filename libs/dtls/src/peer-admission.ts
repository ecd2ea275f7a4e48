import { formatCidr, formatIp, parseIp, unmapIpv4, IPV6_BYTES } from '@hopgate/net-address';

/** Bits of an IPv6 address that name one source: a /64 is what one host or site gets (RFC 4291 §2.5.4). */
const IPV6_SOURCE_PREFIX_BITS = 64;

/**
 * The key per-IP limits count under: the IPv4 address (also when IPv4-mapped), or the /64 of
 * an IPv6 address in canonical text (RFC 5952, e.g. `2001:db8::/64`), since one host can use
 * any address of its /64. A zone index is ignored (RFC 4007 §11). Text that is not an IP
 * address (node never reports one) is its own key.
 */
export function sourceKeyOf(address: string): string {
  const parsed = parseIp(address);
  if (!parsed) return address;
  const ip = unmapIpv4(parsed);
  if (ip.family === 4) return formatIp(ip);
  const network = new Uint8Array(IPV6_BYTES);
  network.set(ip.bytes.subarray(0, IPV6_SOURCE_PREFIX_BITS / 8));
  return formatCidr({ network: { family: 6, bytes: network }, prefixBits: IPV6_SOURCE_PREFIX_BITS });
}

/** Limits on peers that have not proven themselves yet; defaults are the DEFAULT_* constants. */
export interface AdmissionLimits {
  /** Handshakes in progress per source. */
  maxHandshakesPerIp: number;
  /** Handshakes in progress plus unauthenticated sessions per source. */
  maxUnauthenticatedPerIp: number;
  /** Handshakes in progress plus unauthenticated sessions in all. */
  maxUnauthenticated: number;
}

/** Why a handshake was not started; each has its counter and log line. */
export type AdmissionRefusal = 'ip_handshakes' | 'ip_unauthenticated' | 'unauthenticated_share';

interface SourceCounts {
  handshakes: number;
  unauthenticated: number;
}

/**
 * Counts handshakes in progress and sessions not yet authenticated, per source and in all,
 * and decides whether a new handshake may start. A handshake that completes becomes an
 * unauthenticated session, so the two share one budget and a completion never passes a
 * limit. Sources are forgotten when their counts reach zero: the map holds at most
 * `maxUnauthenticated` entries.
 */
export class PeerAdmission {
  private readonly bySource = new Map<string, SourceCounts>();
  private handshakes = 0;
  private unauthenticated = 0;

  constructor(readonly limits: AdmissionLimits) {}

  /** Sources with a handshake or an unauthenticated session. */
  get sourceCount(): number {
    return this.bySource.size;
  }

  get unauthenticatedSessions(): number {
    return this.unauthenticated;
  }

  /** Why a new handshake from `source` may not start, or undefined when it may. */
  refusal(source: string): AdmissionRefusal | undefined {
    const counts = this.bySource.get(source);
    const handshakes = counts?.handshakes ?? 0;
    const unauthenticated = counts?.unauthenticated ?? 0;
    if (handshakes >= this.limits.maxHandshakesPerIp) return 'ip_handshakes';
    if (handshakes + unauthenticated >= this.limits.maxUnauthenticatedPerIp) return 'ip_unauthenticated';
    if (this.handshakes + this.unauthenticated >= this.limits.maxUnauthenticated) return 'unauthenticated_share';
    return undefined;
  }

  handshakeStarted(source: string): void {
    this.counts(source).handshakes += 1;
    this.handshakes += 1;
  }

  /** A handshake failed, timed out or was abandoned. */
  handshakeEnded(source: string): void {
    this.update(source, (counts) => (counts.handshakes -= 1));
    this.handshakes -= 1;
  }

  /** A handshake completed: its session counts as unauthenticated until `authenticated`. */
  handshakeCompleted(source: string): void {
    this.update(source, (counts) => {
      counts.handshakes -= 1;
      counts.unauthenticated += 1;
    });
    this.handshakes -= 1;
    this.unauthenticated += 1;
  }

  /** The application accepted the session's peer. */
  authenticated(source: string): void {
    this.update(source, (counts) => (counts.unauthenticated -= 1));
    this.unauthenticated -= 1;
  }

  /** An unauthenticated session closed. */
  unauthenticatedClosed(source: string): void {
    this.authenticated(source);
  }

  private counts(source: string): SourceCounts {
    let counts = this.bySource.get(source);
    if (!counts) {
      counts = { handshakes: 0, unauthenticated: 0 };
      this.bySource.set(source, counts);
    }
    return counts;
  }

  private update(source: string, change: (counts: SourceCounts) => void): void {
    const counts = this.counts(source);
    change(counts);
    if (counts.handshakes <= 0 && counts.unauthenticated <= 0) this.bySource.delete(source);
  }
}
