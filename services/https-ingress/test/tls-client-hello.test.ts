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
import { parseClientHello, ClientHelloReader, MAX_CLIENT_HELLO_BYTES, TLS_RECORD_HEADER_BYTES, TLS_HANDSHAKE_HEADER_BYTES, type TlsClientHello } from '../src/index.js';

/** A capture waits this long for the client's ClientHello, in ms. */
const CAPTURE_TIMEOUT_MS = 10_000;
/**
 * The largest ClientHello fed one byte per push, in 1-byte records (about 190 KiB of input),
 * must be read well within this, in ms: linear work takes well under a second; re-parsing
 * the whole buffer per chunk takes minutes.
 */
const LARGEST_HELLO_BYTE_BY_BYTE_TIMEOUT_MS = 20_000;

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

/** A ClientHello handshake message (header + body) with SNI, ALPN h2 and a padding extension of `padding` bytes (RFC 7685). */
function syntheticHello(serverName: string, padding: number): Buffer {
  const ext = (type: number, data: Buffer): Buffer => {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(type, 0);
    head.writeUInt16BE(data.length, 2);
    return Buffer.concat([head, data]);
  };
  const name = Buffer.from(serverName, 'ascii');
  const sniEntry = Buffer.concat([Buffer.from([0, name.length >> 8, name.length & 0xff]), name]);
  const sni = Buffer.concat([Buffer.from([sniEntry.length >> 8, sniEntry.length & 0xff]), sniEntry]);
  const alpn = Buffer.from([0, 3, 2, 0x68, 0x32]);
  const extensions = Buffer.concat([ext(0, sni), ext(16, alpn), ext(21, Buffer.alloc(padding))]);
  const extLength = Buffer.alloc(2);
  extLength.writeUInt16BE(extensions.length);
  const body = Buffer.concat([Buffer.from([3, 3]), crypto.randomBytes(32), Buffer.from([0, 0, 2, 0x13, 0x01, 1, 0]), extLength, extensions]);
  const header = Buffer.from([1, 0, 0, 0]);
  header.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([header, body]);
}

/** A handshake message cut into handshake records of `size` bytes (RFC 8446 §5.1). */
function inRecords(message: Buffer, size: number): Buffer {
  const records: Buffer[] = [];
  for (let at = 0; at < message.length; at += size) {
    const part = message.subarray(at, at + size);
    const head = Buffer.from([22, 3, 1, 0, 0]);
    head.writeUInt16BE(part.length, 3);
    records.push(head, part);
  }
  return Buffer.concat(records);
}

test('reader fed one byte per push (also in 1- and 3-byte records): incomplete until the last byte, then the same hello; bytes() gives back every byte', () => {
  const length = TLS_RECORD_HEADER_BYTES + nodeHello.readUInt16BE(3);
  const whole = nodeHello.subarray(0, length);
  for (const input of [whole, refragment(whole, 1), refragment(whole, 3)]) {
    const reader = new ClientHelloReader();
    for (let n = 0; n < input.length - 1; n++) {
      assert.equal(reader.push(input.subarray(n, n + 1)).status, 'incomplete', `byte ${n} of ${input.length}`);
    }
    const last = reader.push(input.subarray(input.length - 1));
    assert.equal(last.status, 'complete');
    assert.deepEqual((last as { hello: TlsClientHello }).hello, complete(whole));
    assert.equal(reader.receivedBytes, input.length);
    assert.ok(reader.bytes().equals(input), 'the bytes handed on to TLS are the bytes received');
  }
});

test('reader: any chunking gives the verdict of the whole input (real, truncated, garbage, corrupted)', () => {
  const length = TLS_RECORD_HEADER_BYTES + nodeHello.readUInt16BE(3);
  const inputs: Buffer[] = [nodeHello.subarray(0, length), refragment(nodeHello, 50), opensslHello, nodeHello.subarray(0, length - 7), Buffer.from('GET / HTTP/1.1\r\n\r\n')];
  for (let i = 0; i < 40; i++) {
    const bytes = Buffer.from(nodeHello.subarray(0, length));
    const at = TLS_RECORD_HEADER_BYTES + ((i * 37) % (length - TLS_RECORD_HEADER_BYTES));
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    inputs.push(bytes);
  }
  for (const [index, input] of inputs.entries()) {
    const expected = parseClientHello(input);
    for (let round = 0; round < 20; round++) {
      const reader = new ClientHelloReader();
      let verdict = reader.push(Buffer.alloc(0));
      for (let at = 0; at < input.length; ) {
        const size = 1 + crypto.randomInt(Math.min(64, input.length - at));
        verdict = reader.push(input.subarray(at, at + size));
        at += size;
      }
      assert.equal(verdict.status, expected.status, `input ${index}, round ${round}`);
      if (verdict.status !== 'incomplete') assert.deepEqual(verdict, expected, `input ${index}, round ${round}`);
    }
  }
});

test('reader: a verdict, once reached, stays; later bytes are not looked at', () => {
  const reader = new ClientHelloReader();
  assert.equal(reader.push(Buffer.from([0x17])).status, 'invalid');
  assert.equal(reader.push(Buffer.from(nodeHello)).status, 'invalid');
  assert.equal(reader.receivedBytes, 1);
});

test('the largest accepted ClientHello in 1-byte records, one byte per push, is read in linear time', { timeout: LARGEST_HELLO_BYTE_BY_BYTE_TIMEOUT_MS }, () => {
  // Padding chosen so that the whole message is exactly MAX_CLIENT_HELLO_BYTES of body.
  const probe = syntheticHello('big.example.com', 0);
  const message = syntheticHello('big.example.com', MAX_CLIENT_HELLO_BYTES - (probe.length - TLS_HANDSHAKE_HEADER_BYTES));
  assert.equal(message.readUIntBE(1, 3), MAX_CLIENT_HELLO_BYTES);
  const input = inRecords(message, 1);
  const reader = new ClientHelloReader();
  let verdict = reader.push(Buffer.alloc(0));
  for (let at = 0; at < input.length; at++) verdict = reader.push(input.subarray(at, at + 1));
  assert.equal(verdict.status, 'complete', JSON.stringify(verdict));
  assert.equal((verdict as { hello: TlsClientHello }).hello.serverName, 'big.example.com');
  assert.deepEqual((verdict as { hello: TlsClientHello }).hello.alpnProtocols, ['h2']);
  // One byte more than the limit is refused from the handshake header alone.
  const over = syntheticHello('big.example.com', MAX_CLIENT_HELLO_BYTES - (probe.length - TLS_HANDSHAKE_HEADER_BYTES) + 1);
  assert.equal(new ClientHelloReader().push(inRecords(over, 1).subarray(0, 4 * (TLS_RECORD_HEADER_BYTES + 1))).status, 'invalid');
});
