/**
 * Abuse limits at the edge, on connections: open connections per client address
 * (HOPGATE_MAX_CONNECTIONS_PER_IP, both listeners together), the TLS handshake deadline from
 * TCP connect (HOPGATE_TLS_HANDSHAKE_TIMEOUT_MS, ClientHello included), and the limit for a
 * request whose announced body never starts (HOPGATE_BODY_START_TIMEOUT_MS). Client addresses
 * other than 127.0.0.1 are bound explicitly (Linux routes all of 127/8 to the loopback).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import http2 from 'node:http2';
import { Stack, waitFor } from '@hopgate/testkit';
import { startEdgeOrigin, h2Connect, h2Request, RawConnection, parseRawResponses, ANSWER_TIMEOUT_MS, type EdgeOrigin } from './edge-helpers.js';

const HOST = 'edge.hopgate.test';
/** HOPGATE_MAX_CONNECTIONS_PER_IP of the ingress under test. */
const MAX_CONNECTIONS_PER_IP = 5;
/** HOPGATE_TLS_HANDSHAKE_TIMEOUT_MS of the ingress under test. */
const HANDSHAKE_TIMEOUT_MS = 2_000;
/** HOPGATE_BODY_START_TIMEOUT_MS of the ingress under test (the body idle timeout stays at its 300 s default). */
const BODY_START_TIMEOUT_MS = 1_500;
/**
 * A timer measured from the client starts a little after the ingress's: allow this much early, in ms.
 * (A close well before the bound would be another mechanism, not the one under test.)
 */
const EARLY_TOLERANCE_MS = 300;
/** How late a bound may be met on a loaded machine, in ms; far below the 10 s and 300 s defaults. */
const LATE_TOLERANCE_MS = 5_000;
/** A refused connection is closed at once: well before the handshake deadline, in ms. */
const REFUSED_CLOSE_DEADLINE_MS = 1_000;
/** Per test, in ms. */
const TEST_TIMEOUT_MS = 60_000;
/** The client address that runs into the cap, and another one (the other tests use 127.0.0.1). */
const CAPPED_ADDRESS = '127.0.0.3';
const OTHER_ADDRESS = '127.0.0.4';
const REFUSAL_LOG = 'connection refused: too many open connections from this address';

let stack: Stack;
let origin: EdgeOrigin;
/** A ClientHello as node's TLS client sends it for HOST (one record). */
let clientHello: Buffer;

before(async () => {
  origin = await startEdgeOrigin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-edge-abuse-'));
  stack = await Stack.start({
    dir,
    hubs: 1,
    ingressEnv: {
      HOPGATE_MAX_CONNECTIONS_PER_IP: String(MAX_CONNECTIONS_PER_IP),
      HOPGATE_TLS_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_TIMEOUT_MS),
      HOPGATE_BODY_START_TIMEOUT_MS: String(BODY_START_TIMEOUT_MS),
      HOPGATE_HTTP_MODE: 'serve',
    },
  });
  const token = await stack.addClient('edgebox');
  await stack.setRoute(HOST, '/', 'edgebox/web');
  await stack.startAgent({ clientId: 'edgebox', token, services: { web: origin.address } });
  clientHello = await captureClientHello();
});

after(async () => {
  await stack?.stop();
  await origin?.close();
});

/** The first flight of node's TLS client (SNI HOST, ALPN h2 + http/1.1), read on a local listener. */
async function captureClientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: HOST, ALPNProtocols: ['h2', 'http/1.1'] });
  client.on('error', () => undefined);
  try {
    return await new Promise<Buffer>((resolve) => {
      server.once('connection', (socket) => {
        let bytes = Buffer.alloc(0);
        socket.on('error', () => undefined);
        socket.on('data', (chunk: Buffer) => {
          bytes = Buffer.concat([bytes, chunk]);
          // One handshake record: header(5) + its length.
          if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) resolve(bytes.subarray(0, 5 + bytes.readUInt16BE(3)));
        });
      });
    });
  } finally {
    client.destroy();
    server.close();
  }
}

/** A raw TCP connection to a port of the ingress; resolves once connected. */
function tcpConnect(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with the ms from now until `socket` closes. */
function closedAfter(socket: net.Socket): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    socket.on('error', () => undefined);
    socket.resume();
    if (socket.destroyed) resolve(0);
    else socket.once('close', () => resolve(Date.now() - started));
  });
}

/** An HTTP/2 connection from `localAddress` (ALPN h2, SNI HOST). */
async function h2From(localAddress: string): Promise<http2.ClientHttp2Session> {
  const tcp = await tcpConnect(stack.httpsPort, localAddress);
  const session = http2.connect(`https://127.0.0.1:${stack.httpsPort}`, {
    createConnection: () => tls.connect({ socket: tcp, ca: fs.readFileSync(stack.ca.certFile), servername: HOST, ALPNProtocols: ['h2'] }),
  });
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  session.on('error', () => undefined);
  return session;
}

/** A GET over a fresh connection on the plain HTTP port; resolves with the status, or the error code. */
function plainGet(pathname: string, localAddress: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: stack.httpPort, path: pathname, headers: { host: HOST }, agent: false, localAddress }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message));
  });
}

test(`connections per address: ${MAX_CONNECTIONS_PER_IP} held, the next is closed at once on both ports, another address is served, a closed one frees its slot`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const logsBefore = stack.ingress.countLogs((r) => r.msg === REFUSAL_LOG);
  const held: http2.ClientHttp2Session[] = [];
  try {
    for (let i = 0; i < MAX_CONNECTIONS_PER_IP; i++) held.push(await h2From(CAPPED_ADDRESS));
    for (const session of held) assert.equal((await h2Request(session, { ':path': '/held', ':authority': HOST })).status, 200);
    // The next TCP connection from this address: closed before any TLS byte, not at the handshake deadline.
    const sixth = await tcpConnect(stack.httpsPort, CAPPED_ADDRESS);
    const took = await closedAfter(sixth);
    assert.ok(took < REFUSED_CLOSE_DEADLINE_MS, `refused connection closed after ${took} ms`);
    assert.equal(sixth.bytesRead, 0, 'no TLS alert, no byte at all');
    // The count covers the plain HTTP port too.
    const plain = await plainGet('/plain-refused', CAPPED_ADDRESS);
    assert.equal(typeof plain, 'string', `plain HTTP answered ${plain}`);
    // Another address has its own count.
    const other = await h2From(OTHER_ADDRESS);
    try {
      assert.equal((await h2Request(other, { ':path': '/other-address', ':authority': HOST })).status, 200);
    } finally {
      other.destroy();
    }
    assert.equal(await plainGet('/plain-other', OTHER_ADDRESS), 200);
    const line = await stack.ingress.waitForLog('the refusal line', (r) => r.msg === REFUSAL_LOG, ANSWER_TIMEOUT_MS);
    assert.equal(line.level, 'warn');
    assert.equal(line['remote'], CAPPED_ADDRESS);
    assert.equal(line['max_connections_per_ip'], MAX_CONNECTIONS_PER_IP);
    assert.equal(stack.ingress.countLogs((r) => r.msg === REFUSAL_LOG), logsBefore + 1, 'two refusals within the interval: one line');
    // A closed connection frees its slot: a new one is served once the ingress has seen the close.
    held.shift()!.destroy();
    held.push(await waitFor('a connection admitted again', () => servedSession(CAPPED_ADDRESS), ANSWER_TIMEOUT_MS));
  } finally {
    for (const session of held) session.destroy();
  }
  // Every slot comes back: as many connections as the cap are served again.
  await waitFor('all slots free', async () => {
    const probes = await Promise.all(Array.from({ length: MAX_CONNECTIONS_PER_IP }, () => servedSession(CAPPED_ADDRESS)));
    for (const probe of probes) probe?.destroy();
    return probes.every((p) => p !== undefined);
  }, ANSWER_TIMEOUT_MS);
});

/** An HTTP/2 connection from `localAddress` that served a request, or undefined if it was refused. */
async function servedSession(localAddress: string): Promise<http2.ClientHttp2Session | undefined> {
  const session = await h2From(localAddress).catch(() => undefined);
  if (session === undefined) return undefined;
  const reply = await h2Request(session, { ':path': '/probe', ':authority': HOST }).catch(() => undefined);
  if (reply?.status === 200) return session;
  session.destroy();
  return undefined;
}

test(`TLS handshake deadline: a ClientHello and then nothing is closed ${HANDSHAKE_TIMEOUT_MS} ms after connect; so is half a ClientHello; a completed handshake is not`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const established = await h2Connect(stack, HOST);
  try {
    const full = await tcpConnect(stack.httpsPort);
    const half = await tcpConnect(stack.httpsPort);
    const fullClosed = closedAfter(full);
    const halfClosed = closedAfter(half);
    full.write(clientHello);
    half.write(clientHello.subarray(0, Math.floor(clientHello.length / 2)));
    const [tookFull, tookHalf] = await Promise.all([fullClosed, halfClosed]);
    for (const [what, took] of [['full ClientHello', tookFull], ['half ClientHello', tookHalf]] as const) {
      assert.ok(took >= HANDSHAKE_TIMEOUT_MS - EARLY_TOLERANCE_MS && took <= HANDSHAKE_TIMEOUT_MS + LATE_TOLERANCE_MS, `${what}: closed after ${took} ms`);
    }
    assert.ok(full.bytesRead > 0, 'the ingress answered the full ClientHello (ServerHello...) before the deadline');
    assert.equal(half.bytesRead, 0);
    // The connection whose handshake completed before is past the deadline too, and still serves.
    assert.equal((await h2Request(established, { ':path': '/after-deadline', ':authority': HOST })).status, 200);
  } finally {
    established.destroy();
  }
});

/** Sends a request head announcing a body over a raw TLS HTTP/1.1 connection; resolves with the answer text and the time to the close. */
async function headOnly(head: string): Promise<{ text: string; took: number }> {
  const conn = await RawConnection.open(stack, HOST);
  try {
    const started = Date.now();
    conn.write(head);
    const text = await conn.waitForClose(BODY_START_TIMEOUT_MS + LATE_TOLERANCE_MS + ANSWER_TIMEOUT_MS);
    return { text, took: Date.now() - started };
  } finally {
    conn.close();
  }
}

test('HTTP/1.1: Content-Length: 100 and no body byte: 408 and the connection closed after HOPGATE_BODY_START_TIMEOUT_MS; the origin got nothing or a cancelled request', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { text, took } = await headOnly(`POST /never-sized HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 100\r\n\r\n`);
  const [reply] = parseRawResponses(text, ['POST']);
  assert.equal(reply?.status, 408);
  assert.equal(reply?.headers['connection']?.[0], 'close');
  assert.match(reply?.body ?? '', /the request body did not start in time/);
  assert.ok(took >= BODY_START_TIMEOUT_MS - EARLY_TOLERANCE_MS && took <= BODY_START_TIMEOUT_MS + LATE_TOLERANCE_MS, `answered after ${took} ms`);
  const requestId = reply?.headers['x-hopgate-request-id']?.[0];
  const line = await stack.ingress.waitForLog('the body-start log line', (r) => r['request_id'] === requestId && r.msg === 'request body never started: cancelling', ANSWER_TIMEOUT_MS);
  assert.equal(line['body_start_timeout_ms'], BODY_START_TIMEOUT_MS);
  const seen = origin.seen.filter((r) => r.url === '/never-sized');
  assert.ok(seen.every((r) => !r.complete), 'no complete request reached the origin');
});

test('HTTP/1.1: chunked and no chunk: 408 and the connection closed after HOPGATE_BODY_START_TIMEOUT_MS', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { text, took } = await headOnly(`POST /never-chunked HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n`);
  assert.equal(parseRawResponses(text, ['POST'])[0]?.status, 408);
  assert.ok(took >= BODY_START_TIMEOUT_MS - EARLY_TOLERANCE_MS && took <= BODY_START_TIMEOUT_MS + LATE_TOLERANCE_MS, `answered after ${took} ms`);
  assert.ok(origin.seen.filter((r) => r.url === '/never-chunked').every((r) => !r.complete));
});

test('HTTP/2: HEADERS without END_STREAM and no DATA: 408, the stream ends; a body that started in time is not cut and completes', { timeout: TEST_TIMEOUT_MS }, async () => {
  const session = await h2Connect(stack, HOST);
  try {
    const started = Date.now();
    const never = session.request({ ':method': 'POST', ':path': '/never-h2', ':authority': HOST }, { endStream: false });
    // A second upload whose first bytes come at once, then nothing until the first one is answered.
    const slow = session.request({ ':method': 'POST', ':path': '/sha256', ':authority': HOST }, { endStream: false });
    slow.write('first bytes;');
    const neverReply = new Promise<{ status: number; took: number; body: string }>((resolve, reject) => {
      let status = 0;
      let body = '';
      never.on('response', (h) => (status = Number(h[':status'])));
      never.on('data', (c: Buffer) => (body += c.toString()));
      never.on('close', () => resolve({ status, took: Date.now() - started, body }));
      never.on('error', reject);
    });
    const slowReply = new Promise<{ status: number; body: string }>((resolve, reject) => {
      let status = 0;
      let body = '';
      slow.on('response', (h) => (status = Number(h[':status'])));
      slow.on('data', (c: Buffer) => (body += c.toString()));
      slow.on('end', () => resolve({ status, body }));
      slow.on('error', reject);
    });
    const answered = await neverReply;
    assert.equal(answered.status, 408);
    assert.match(answered.body, /did not start in time/);
    assert.ok(answered.took >= BODY_START_TIMEOUT_MS - EARLY_TOLERANCE_MS && answered.took <= BODY_START_TIMEOUT_MS + LATE_TOLERANCE_MS, `answered after ${answered.took} ms`);
    // The other upload, started in time, has been idle as long: it goes on.
    slow.end('and the rest');
    const done = await slowReply;
    assert.equal(done.status, 200);
    assert.deepEqual(JSON.parse(done.body), { sha256: sha256Of('first bytes;and the rest'), length: 24 });
    assert.ok(origin.seen.filter((r) => r.url === '/never-h2').every((r) => !r.complete));
    // The connection itself is fine.
    assert.equal((await h2Request(session, { ':path': '/after-408', ':authority': HOST })).status, 200);
  } finally {
    session.destroy();
  }
});

function sha256Of(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}
