import type { Socket } from 'node:net';
import { normalizeIp, type AddressSet } from '@hopgate/net-address';
import { pairsFromRaw, requestClient, type RequestClient } from '@hopgate/http-tunnel';
import type { PublicRequest } from './public-http.js';

/** Where a TCP connection comes from, as the ingress believes it. */
export interface ConnectionAddress {
  /** The PROXY protocol source address when a trusted proxy sent one, else the TCP peer (canonical text). */
  address: string;
  /** The public port the client connected to: the PROXY destination port, else the listener's port. */
  port: number;
}

/** The parts of a socket that name its connection (a raw socket, a TLS socket over it, or HTTP/2's socket proxy). */
type SocketEnds = Pick<Socket, 'remoteAddress' | 'remotePort' | 'localAddress' | 'localPort'>;

/**
 * The one place that knows each connection's client address: what the access logs
 * (`client_ip`), X-Forwarded-For and per-address limits use. Connections that came with a
 * PROXY protocol header are recorded here by the listener until they close; for any other,
 * the TCP peer is the address.
 *
 * Entries are keyed by the connection's four ends (addresses and ports of both sides), which
 * the kernel keeps unique among open connections, because requests hold the TLS socket over
 * the raw socket the listener saw (and HTTP/2 requests a proxy of it), and the four ends are
 * what all of them report alike.
 */
export class ConnectionAddresses {
  private readonly byEnds = new Map<string, ConnectionAddress>();

  /** Records the address of the raw socket `socket` until it closes. */
  set(socket: Socket, address: ConnectionAddress): void {
    const key = endsKey(socket);
    if (key === undefined) return;
    this.byEnds.set(key, address);
    socket.once('close', () => {
      if (this.byEnds.get(key) === address) this.byEnds.delete(key);
    });
  }

  /** The address of the connection `socket` belongs to (raw, TLS or HTTP/2 proxy socket). */
  of(socket: SocketEnds): ConnectionAddress {
    const key = endsKey(socket);
    const recorded = key === undefined ? undefined : this.byEnds.get(key);
    if (recorded) return recorded;
    const peer = socket.remoteAddress ?? '';
    return { address: normalizeIp(peer) ?? peer, port: socket.localPort ?? 0 };
  }

  /** Connections recorded (open connections that came with a PROXY protocol header). */
  get size(): number {
    return this.byEnds.size;
  }
}

function endsKey(socket: SocketEnds): string | undefined {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (remoteAddress === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined) return undefined;
  return `${remoteAddress}|${remotePort}|${localAddress}|${localPort}`;
}

/** What a listener knows about the edge: the trusted proxies and the connections' addresses. */
export interface ClientAddressContext {
  trustedProxies: AddressSet;
  connections: ConnectionAddresses;
}

/** The client of a request and the forwarding headers the ingress sets for it (requestClient). */
export function requestClientOf(req: PublicRequest, proto: 'http' | 'https', ctx: ClientAddressContext): RequestClient {
  const connection = ctx.connections.of(req.socket);
  return requestClient(pairsFromRaw(req.rawHeaders), {
    peerIp: connection.address,
    proto,
    port: connection.port,
    trustedProxies: ctx.trustedProxies,
  });
}
