import fs from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';

/**
 * Lowest port handed out by freeTcpPort/freeUdpPort. Ports are picked at random between this
 * and the start of the kernel's ephemeral range: the kernel gives ephemeral ports to every
 * outgoing connection and unbound UDP socket, so a port it chose for us (bind to 0) could be
 * taken by one of the tests' thousands of loopback connections between our probe and the
 * server's own bind (seen: pebble failing with EADDRINUSE).
 */
export const TEST_PORT_RANGE_LOW = 20_000;
/** Start of Linux's default ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), used when it cannot be read. */
const DEFAULT_EPHEMERAL_LOW = 32_768;
/** Random ports tried before falling back to one the kernel picks. */
const PORT_PICK_ATTEMPTS = 50;

function ephemeralLow(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isSafeInteger(low) && low > TEST_PORT_RANGE_LOW ? low : DEFAULT_EPHEMERAL_LOW;
  } catch {
    return DEFAULT_EPHEMERAL_LOW;
  }
}

function randomCandidate(): number {
  const high = ephemeralLow();
  return TEST_PORT_RANGE_LOW + Math.floor(Math.random() * (high - TEST_PORT_RANGE_LOW));
}

function tryTcp(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : undefined;
      srv.close(() => resolve(bound));
    });
  });
}

function tryUdp(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      resolve(undefined);
    });
    sock.bind(port, '127.0.0.1', () => {
      const bound = sock.address().port;
      sock.close(() => resolve(bound));
    });
  });
}

async function pick(tryPort: (port: number) => Promise<number | undefined>, what: string): Promise<number> {
  for (let i = 0; i < PORT_PICK_ATTEMPTS; i++) {
    const port = await tryPort(randomCandidate());
    if (port !== undefined) return port;
  }
  const port = await tryPort(0);
  if (port === undefined) throw new Error(`no free ${what} port on 127.0.0.1`);
  return port;
}

/** A free TCP port on 127.0.0.1, below the ephemeral range (see TEST_PORT_RANGE_LOW). */
export function freeTcpPort(): Promise<number> {
  return pick(tryTcp, 'TCP');
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` now. */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** A free UDP port on 127.0.0.1, below the ephemeral range (see TEST_PORT_RANGE_LOW). */
export function freeUdpPort(): Promise<number> {
  return pick(tryUdp, 'UDP');
}
