/**
 * The ClientHello reader against real ClientHellos (captured from node's tls.connect and
 * `openssl s_client` on a loopback listener), re-fragmented, truncated and garbled.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { parseClientHello, MAX_CLIENT_HELLO_BYTES, TLS_RECORD_HEADER_BYTES, TLS_HANDSHAKE_HEADER_BYTES, type TlsClientHello } from '../src/index.js';

/** A capture waits this long for the client's ClientHello, in ms. */
const CAPTURE_TIMEOUT_MS = 10_000;

/** Listens once on loopback, starts `client(port)`, returns the bytes received until the ClientHello is complete. */
async function capture(client: (port: number) => () => void): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  let stopClient: () => void = () => undefined;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ClientHello captured in time')), CAPTURE_TIMEOUT_MS);
      server.once('connection', (socket) => {
        let bytes = Buffer.alloc(0);
        socket.on('error', () => undefined);
        socket.on('data', (chunk: Buffer) => {
          bytes = Buffer.concat([bytes, chunk]);
          if (parseClientHello(bytes).status !== 'incomplete') {
            clearTimeout(timer);
            socket.destroy();
            resolve(bytes);
          }
        });
      });
      stopClient = client(port);
    });
  } finally {
    stopClient();
    server.close();
  }
}

function nodeClient(options: tls.ConnectionOptions): (port: number) => () => void {
  return (port) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.on('error', () => undefined);
    return () => socket.destroy();
  };
}

function opensslClient(args: string[]): (port: number) => () => void {
  return (port) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => undefined);
    return () => child.kill();
  };
}

function complete(bytes: Buffer): TlsClientHello {
  const parsed = parseClientHello(bytes);
  assert.equal(parsed.status, 'complete', JSON.stringify(parsed));
  return (parsed as { hello: TlsClientHello }).hello;
}

/** The handshake message of a one-record ClientHello, cut into records of `size` bytes. */
function refragment(bytes: Buffer, size: number): Buffer {
  const length = bytes.readUInt16BE(3);
  const message = bytes.subarray(TLS_RECORD_HEADER_BYTES, TLS_RECORD_HEADER_BYTES + length);
  const records: Buffer[] = [];
  for (let at = 0; at < message.length; at += size) {
    const part = message.subarray(at, at + size);
    const head = Buffer.from([22, 3, 1, 0, 0]);
    head.writeUInt16BE(part.length, 3);
    records.push(head, part);
  }
  return Buffer.concat(records);
}

let nodeHello: Buffer;
let opensslHello: Buffer;

before(async () => {
  nodeHello = await capture(nodeClient({ servername: 'App.Example.com', ALPNProtocols: ['h2', 'http/1.1'] }));
  opensslHello = await capture(opensslClient(['-servername', 'chal.example.com', '-alpn', 'acme-tls/1']));
});

test("node's tls.connect ClientHello: SNI and ALPN in the client's order", () => {
  const hello = complete(nodeHello);
  assert.equal(hello.serverName, 'App.Example.com');
  assert.deepEqual(hello.alpnProtocols, ['h2', 'http/1.1']);
  assert.equal(hello.legacyVersion, 0x0303);
});

test('openssl s_client ClientHello: SNI and acme-tls/1', () => {
  const hello = complete(opensslHello);
  assert.equal(hello.serverName, 'chal.example.com');
  assert.deepEqual(hello.alpnProtocols, ['acme-tls/1']);
});

test('no SNI (openssl -noservername, node to an IP address) and no ALPN', async () => {
  const noSni = complete(await capture(opensslClient(['-noservername'])));
  assert.equal(noSni.serverName, undefined);
  assert.deepEqual(noSni.alpnProtocols, []);
  const toIp = complete(await capture(nodeClient({})));
  assert.equal(toIp.serverName, undefined, 'node sends no SNI for an IP address (RFC 6066 §3)');
});

test('TLS 1.2-only openssl client parses too', async () => {
  const hello = complete(await capture(opensslClient(['-tls1_2', '-servername', 'old.example.com', '-alpn', 'http/1.1'])));
  assert.equal(hello.serverName, 'old.example.com');
  assert.deepEqual(hello.alpnProtocols, ['http/1.1']);
});

test('fed byte by byte: incomplete until the last byte, then complete', () => {
  const length = TLS_RECORD_HEADER_BYTES + nodeHello.readUInt16BE(3);
  const hello = nodeHello.subarray(0, length);
  for (let n = 0; n < hello.length; n++) {
    assert.equal(parseClientHello(hello.subarray(0, n)).status, 'incomplete', `prefix of ${n} bytes`);
  }
  assert.equal(complete(hello).serverName, 'App.Example.com');
});

test('a ClientHello spread over several records (RFC 8446 §5.1) is reassembled', () => {
  for (const size of [1, 3, 50, 200]) {
    const split = refragment(nodeHello, size);
    const hello = complete(split);
    assert.equal(hello.serverName, 'App.Example.com', `records of ${size} bytes`);
    assert.deepEqual(hello.alpnProtocols, ['h2', 'http/1.1']);
    assert.equal(parseClientHello(split.subarray(0, split.length - 1)).status, 'incomplete');
  }
});

test('garbage is refused at once: HTTP on the TLS port, random bytes, other record types', () => {
  const refusals = [
    Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    Buffer.from('G'),
    Buffer.from([0x16, 0x02]), // version 2.x
    Buffer.from([0x17, 0x03, 0x03, 0x00, 0x10]), // application data first
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), // empty handshake record
    Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01]), // record above 2^14
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]), // ServerHello, not ClientHello
  ];
  for (const bytes of refusals) assert.equal(parseClientHello(bytes).status, 'invalid', bytes.toString('hex'));
  for (let i = 0; i < 200; i++) {
    const bytes = crypto.randomBytes(1 + (i % 64));
    if (bytes[0] === 0x16) bytes[0] = 0x17;
    assert.equal(parseClientHello(bytes).status, 'invalid');
  }
});

test('a ClientHello above the size limit is refused from its header', () => {
  const head = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0, 0, 0]);
  head.writeUIntBE(MAX_CLIENT_HELLO_BYTES + 1, 6, 3);
  assert.equal(parseClientHello(head).status, 'invalid');
});

test('corrupted lengths inside a real ClientHello are refused, never thrown', () => {
  const length = TLS_RECORD_HEADER_BYTES + nodeHello.readUInt16BE(3);
  const base = Buffer.from(nodeHello.subarray(0, length));
  // Every single-byte corruption of the body either parses (a value that stays consistent) or is refused.
  for (let at = TLS_RECORD_HEADER_BYTES + TLS_HANDSHAKE_HEADER_BYTES; at < base.length; at++) {
    for (const value of [0x00, 0xff]) {
      const bytes = Buffer.from(base);
      bytes[at] = value;
      const status = parseClientHello(bytes).status;
      assert.ok(status === 'complete' || status === 'invalid' || status === 'incomplete', `byte ${at}`);
    }
  }
  // The handshake length one byte short of the record: the extensions no longer end where they should.
  const short = Buffer.from(base);
  short.writeUIntBE(short.readUIntBE(6, 3) - 1, 6, 3);
  assert.equal(parseClientHello(short).status, 'invalid');
});
