/**
 * ProxyProtocolFront over real loopback TCP connections: the header read in pieces, the
 * bytes after it handed on intact, the source recorded as the connection's client address
 * (and forgotten on close), and every refusal (untrusted peer, bad header, timeout) closing
 * the connection without a byte.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@hopgate/testkit';
import { silentLogger } from '@hopgate/log';
import { AddressSet } from '@hopgate/net-address';
import { ConnectionAddresses, ProxyProtocolFront, PROXY_V2_SIGNATURE, type ConnectionAddress } from '../src/index.js';

/** The header timeout of these tests, in ms: short, so its expiry can be awaited. */
const TEST_HEADER_TIMEOUT_MS = 300;
/** Deadline of every wait in these tests, in ms. */
const WAIT_MS = 10_000;

interface Accepted {
  socket: net.Socket;
  /** The bytes the next step read after the header. */
  data: Buffer;
  address: ConnectionAddress;
}

interface FrontServer {
  port: number;
  front: ProxyProtocolFront;
  connections: ConnectionAddresses;
  /** Server sides of every connection, accepted or not, in order. */
  raw: net.Socket[];
  accepted: Accepted[];
  close(): Promise<void>;
}

const servers: FrontServer[] = [];

async function startFront(trusted: string): Promise<FrontServer> {
  const set = AddressSet.parse(trusted);
  assert.ok(set instanceof AddressSet);
  const connections = new ConnectionAddresses();
  const front = new ProxyProtocolFront({ trustedProxies: set, connections, logger: silentLogger(), headerTimeoutMs: TEST_HEADER_TIMEOUT_MS });
  const raw: net.Socket[] = [];
  const accepted: Accepted[] = [];
  const server = net.createServer((socket) => {
    raw.push(socket);
    front.accept(socket, (s) => {
      const entry: Accepted = { socket: s, data: Buffer.alloc(0), address: connections.of(s) };
      accepted.push(entry);
      s.on('data', (d: Buffer) => (entry.data = Buffer.concat([entry.data, d])));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const running: FrontServer = {
    port: (server.address() as AddressInfo).port,
    front,
    connections,
    raw,
    accepted,
    close: () =>
      new Promise<void>((r) => {
        for (const s of raw) s.destroy();
        server.close(() => r());
      }),
  };
  servers.push(running);
  return running;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
    socket.setNoDelay(true);
  });
}

/** Resolves once the server closed `socket`, with whatever it sent first. */
function whenClosed(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
}

let trusted: FrontServer;

before(async () => {
  trusted = await startFront('127.0.0.1/32');
});

after(async () => {
  for (const s of servers) await s.close();
});

test('a v1 header in pieces: the source is the client address, the bytes after it reach the next step intact', async () => {
  const rawBefore = trusted.raw.length;
  const client = await connect(trusted.port);
  const header = Buffer.from('PROXY TCP4 198.51.100.23 203.0.113.1 51234 8443\r\n', 'latin1');
  const before = trusted.accepted.length;
  const server = await waitFor('server side', () => trusted.raw[rawBefore], WAIT_MS);
  // Each piece waits until the server read the previous one, so the front sees a partial header.
  let sent = 0;
  for (const piece of [header.subarray(0, 3), header.subarray(3, 20), header.subarray(20, header.length - 1)]) {
    client.write(piece);
    sent += piece.length;
    await waitFor('piece read', () => server.bytesRead >= sent, WAIT_MS);
    assert.equal(trusted.accepted.length, before, 'no hand-over before the header is complete');
  }
  const payload = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  client.write(Buffer.concat([header.subarray(header.length - 1), payload]));
  const accepted = await waitFor('hand-over', () => trusted.accepted[before], WAIT_MS);
  await waitFor('payload', () => accepted.data.length >= payload.length, WAIT_MS);
  assert.deepEqual(accepted.data, payload);
  assert.deepEqual(accepted.address, { address: '198.51.100.23', port: 8443 });
  assert.deepEqual(trusted.connections.of(accepted.socket), { address: '198.51.100.23', port: 8443 });
  client.write('more');
  await waitFor('later bytes', () => accepted.data.length === payload.length + 4, WAIT_MS);
  client.destroy();
  await waitFor('entry dropped on close', () => trusted.connections.size === 0, WAIT_MS);
});

test('a v2 header and data in one segment; LOCAL counts as the TCP peer', async () => {
  const body = Buffer.concat([Buffer.from('20010db8000000000000000000000023', 'hex'), Buffer.alloc(16), Buffer.from([0x9c, 0x40, 0x01, 0xbb]), Buffer.from([0x04, 0x00, 0x02, 0xaa, 0xbb])]);
  const head = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x21, 0x00, body.length]), body]);
  const client = await connect(trusted.port);
  const before = trusted.accepted.length;
  client.write(Buffer.concat([head, Buffer.from('hello')]));
  const accepted = await waitFor('hand-over', () => trusted.accepted[before], WAIT_MS);
  await waitFor('payload', () => accepted.data.length >= 5, WAIT_MS);
  assert.equal(accepted.data.toString(), 'hello');
  assert.deepEqual(accepted.address, { address: '2001:db8::23', port: 443 });
  client.destroy();

  const health = await connect(trusted.port);
  health.write(Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]));
  const local = await waitFor('LOCAL hand-over', () => trusted.accepted[before + 1], WAIT_MS);
  assert.deepEqual(local.address, { address: '127.0.0.1', port: trusted.port });
  assert.equal(local.data.length, 0);
  health.destroy();
});

test('refused and closed without a byte: no header, a bad header, a header too late', async () => {
  const refusedBefore = { ...trusted.front.refused };
  const acceptedBefore = trusted.accepted.length;
  const tlsFirst = await connect(trusted.port);
  const tlsClosed = whenClosed(tlsFirst);
  tlsFirst.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05]));
  assert.equal((await tlsClosed).length, 0);

  const lonelyLf = await connect(trusted.port);
  const lfClosed = whenClosed(lonelyLf);
  lonelyLf.write('PROXY TCP4 198.51.100.23 203.0.113.1 1 2\n');
  assert.equal((await lfClosed).length, 0);

  const oversized = await connect(trusted.port);
  const bigClosed = whenClosed(oversized);
  oversized.write(Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]));
  assert.equal((await bigClosed).length, 0);
  assert.equal(trusted.front.refused.invalid_header, refusedBefore.invalid_header + 3);

  // Taken before the connect: the front's clock starts later, so the close comes at least the timeout after this.
  const started = Date.now();
  const silent = await connect(trusted.port);
  silent.write('PROXY TCP4 ');
  assert.equal((await whenClosed(silent)).length, 0);
  assert.ok(Date.now() - started >= TEST_HEADER_TIMEOUT_MS, `closed after ${Date.now() - started} ms`);
  assert.equal(trusted.front.refused.timeout, refusedBefore.timeout + 1);
  assert.equal(trusted.accepted.length, acceptedBefore);
});

test('a peer not in the trusted proxies is closed at once, even with a valid header', async () => {
  const untrusted = await startFront('10.0.0.0/8,::1');
  const client = await connect(untrusted.port);
  const closed = whenClosed(client);
  client.write('PROXY TCP4 198.51.100.23 203.0.113.1 51234 443\r\nGET / HTTP/1.1\r\n\r\n');
  assert.equal((await closed).length, 0);
  assert.equal(untrusted.front.refused.untrusted_peer, 1);
  assert.equal(untrusted.accepted.length, 0);
});
