/**
 * HTTP semantics at the https-ingress, mostly with bytes written by hand on a TLS socket:
 * Expect: 100-continue, malformed requests refused before any agent sees them, request
 * targets passed on byte for byte, bodiless responses, chunked trailers, hop-by-hop
 * headers, and the request body idle timeout.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import { Stack, waitFor } from '@hopgate/testkit';
import {
  startEdgeOrigin,
  h2Connect,
  h2Request,
  RawConnection,
  rawRequest,
  parseRawResponses,
  sha256,
  curl,
  OVERSIZED_HEADER_BYTES,
  LARGE_ALLOWED_HEADER_BYTES,
  ANSWER_TIMEOUT_MS,
  type EdgeOrigin,
} from './edge-helpers.js';

const HOST = 'sem.hopgate.test';
/** Routed to an origin that must never see a request (malformed input lands here). */
const STRICT_HOST = 'strict.hopgate.test';
/** Routed to a registered client that has no agent. */
const OFFLINE_HOST = 'offline.hopgate.test';
const UNKNOWN_HOST = 'nobody.hopgate.test';
/** HOPGATE_BODY_IDLE_TIMEOUT_MS of this file's ingress: short, yet far above any gap of a live upload. */
const BODY_IDLE_TIMEOUT_MS = 3_000;
/** HOPGATE_RESPONSE_TIMEOUT_MS of this file's ingress: shorter than the slow upload below. */
const RESPONSE_TIMEOUT_MS = 5_000;
/** Gap between the chunks of the slow-but-alive upload, in ms (well under the idle timeout). */
const SLOW_UPLOAD_GAP_MS = 300;
/** Chunks of the slow-but-alive upload: together they take longer than both timeouts. */
const SLOW_UPLOAD_CHUNKS = 22;
/** A request target in normal form (RFC 3986 §6.2.2) full of bytes a normalising proxy would touch; its query holds dot-segments and a bad percent-encoding, which are data there. */
const TRICKY_TARGET = '/a%2Fb/%E2%82%AC/x/y//z;p=1/..%2F/\\..?q=%20&x=a+b&y=%zz&z=/..%2F&e=/./../%2e';

let stack: Stack;
let origin: EdgeOrigin;
let strict: EdgeOrigin;

before(async () => {
  origin = await startEdgeOrigin();
  strict = await startEdgeOrigin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-sem-'));
  stack = await Stack.start({ dir, hubs: 1, ingressEnv: { HOPGATE_BODY_IDLE_TIMEOUT_MS: String(BODY_IDLE_TIMEOUT_MS), HOPGATE_RESPONSE_TIMEOUT_MS: String(RESPONSE_TIMEOUT_MS) } });
  const token = await stack.addClient('sembox');
  await stack.addClient('ghost');
  await stack.setRoute(HOST, '/', 'sembox/web');
  await stack.setRoute(STRICT_HOST, '/', 'sembox/strict');
  await stack.setRoute(OFFLINE_HOST, '/', 'ghost/web');
  await stack.startAgent({ clientId: 'sembox', token, services: { web: origin.address, strict: strict.address } });
});

after(async () => {
  await stack?.stop();
  await origin?.close();
  await strict?.close();
});

function lastSeen(url: string): EdgeOrigin['seen'][number] | undefined {
  return origin.seen.filter((r) => r.url === url).at(-1);
}

// ---- Expect: 100-continue -------------------------------------------------------------

test('Expect: 100-continue: 100 comes only after the route is known, then the body is proxied; Expect is not forwarded', async () => {
  const body = crypto.randomBytes(256 * 1024);
  const conn = await RawConnection.open(stack, HOST);
  try {
    conn.write(`POST /sha256 HTTP/1.1\r\nhost: ${HOST}\r\ncontent-length: ${body.length}\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n`);
    const interim = await conn.waitForText(/\r\n\r\n/);
    assert.equal(interim, 'HTTP/1.1 100 Continue\r\n\r\n');
    conn.write(body);
    const [res] = parseRawResponses(await conn.waitForClose(), ['POST']);
    assert.equal(res?.status, 200);
    assert.deepEqual(JSON.parse(res!.body), { sha256: sha256(body), length: body.length });
  } finally {
    conn.close();
  }
  assert.equal(lastSeen('/sha256')?.headers['expect'], undefined);
});

test('Expect: 100-continue for an unknown host or an offline client: the final status at once, no 100', async () => {
  for (const [host, status] of [[UNKNOWN_HOST, 404], [OFFLINE_HOST, 502]] as const) {
    const text = await rawRequest(stack, host, `POST /upload HTTP/1.1\r\nhost: ${host}\r\ncontent-length: 1000000\r\nexpect: 100-continue\r\n\r\n`);
    assert.doesNotMatch(text, /100 Continue/);
    const [res] = parseRawResponses(text, ['POST']);
    assert.equal(res?.status, status, text);
    assert.ok(res?.headers['x-hopgate-request-id']);
  }
});

test('Expect: 100-continue over HTTP/2: a 100 then the body; none for an unknown host', async () => {
  const session = await h2Connect(stack, HOST);
  try {
    const body = crypto.randomBytes(300 * 1024);
    const req = session.request({ ':method': 'POST', ':path': '/sha256', ':authority': HOST, expect: '100-continue', 'content-length': body.length }, { endStream: false });
    req.on('error', () => undefined);
    let sawContinue = false;
    await new Promise<void>((resolve) =>
      req.once('continue', () => {
        sawContinue = true;
        resolve();
      }),
    );
    const head = new Promise<http2.IncomingHttpHeaders>((r) => req.once('response', r));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((r) => req.once('end', () => r()));
    req.end(body);
    assert.equal((await head)[':status'], 200);
    await ended;
    assert.ok(sawContinue);
    assert.deepEqual(JSON.parse(Buffer.concat(chunks).toString()), { sha256: sha256(body), length: body.length });

    const lost = session.request({ ':method': 'POST', ':path': '/x', ':authority': UNKNOWN_HOST, expect: '100-continue' }, { endStream: false });
    lost.on('error', () => undefined);
    let lostContinue = false;
    lost.once('continue', () => (lostContinue = true));
    const lostHead = await new Promise<http2.IncomingHttpHeaders>((r) => lost.once('response', r));
    assert.equal(lostHead[':status'], 404);
    lost.resume();
    await new Promise<void>((r) => lost.once('close', () => r()));
    assert.equal(lostContinue, false);
  } finally {
    session.destroy();
  }
});


test('curl uploads 8 MiB with Expect: 100-continue (HTTP/1.1 and HTTP/2): 100 seen, every byte arrives', async () => {
  const file = path.join(stack.dir, 'upload.bin');
  const body = crypto.randomBytes(8 * 1024 * 1024);
  fs.writeFileSync(file, body);
  for (const version of ['--http1.1', '--http2']) {
    const res = await curl([
      '-sS', '-v', version, '--cacert', stack.ca.certFile, '--resolve', `${HOST}:${stack.httpsPort}:127.0.0.1`,
      '-H', 'Expect: 100-continue', '-H', 'content-type: application/octet-stream', '--data-binary', `@${file}`,
      `https://${HOST}:${stack.httpsPort}/sha256`,
    ]);
    assert.equal(res.code, 0, res.stderr.slice(-2000));
    assert.match(res.stderr, /< HTTP\/(1\.1|2) 100/, `${version}: no 100 Continue seen`);
    assert.deepEqual(JSON.parse(res.stdout), { sha256: sha256(body), length: body.length });
  }
});

// ---- malformed requests never reach an agent --------------------------------------------

test('malformed requests are refused at the ingress and never reach the origin', async () => {
  const cases: Array<{ what: string; bytes: string; status: number }> = [
    {
      what: 'Content-Length with Transfer-Encoding',
      bytes: `POST /smuggle HTTP/1.1\r\nhost: ${STRICT_HOST}\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`,
      status: 400,
    },
    {
      what: 'two differing Content-Length',
      bytes: `POST /smuggle HTTP/1.1\r\nhost: ${STRICT_HOST}\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd`,
      status: 400,
    },
    {
      what: 'a Transfer-Encoding that is not chunked last',
      bytes: `POST /smuggle HTTP/1.1\r\nhost: ${STRICT_HOST}\r\ntransfer-encoding: chunked, gzip\r\n\r\n0\r\n\r\n`,
      status: 400,
    },
    {
      what: 'two Host headers',
      bytes: `GET /twohosts HTTP/1.1\r\nhost: ${STRICT_HOST}\r\nhost: ${HOST}\r\n\r\n`,
      status: 400,
    },
    {
      what: 'a head over HOPGATE_MAX_HEADER_BYTES (32 KiB)',
      bytes: `GET /big HTTP/1.1\r\nhost: ${STRICT_HOST}\r\nx-big: ${'a'.repeat(OVERSIZED_HEADER_BYTES)}\r\n\r\n`,
      status: 431,
    },
    {
      what: 'a space in the header name',
      bytes: `GET /space HTTP/1.1\r\nhost: ${STRICT_HOST}\r\nbad name: x\r\n\r\n`,
      status: 400,
    },
  ];
  for (const c of cases) {
    const text = await rawRequest(stack, STRICT_HOST, c.bytes);
    const [res] = parseRawResponses(text, ['GET']);
    assert.equal(res?.status, c.status, `${c.what}: ${text.slice(0, 200)}`);
    const requestId = res?.headers['x-hopgate-request-id']?.[0];
    assert.ok(requestId, `${c.what}: no request id`);
    await stack.ingress.waitForLog(`refusal of ${c.what} logged`, (r) => r.msg === 'malformed request refused' && r['request_id'] === requestId && r['status'] === c.status);
  }
  // A large head under the limit (above node's 16 KiB default) is served.
  const fits = parseRawResponses(await rawRequest(stack, HOST, `GET /fits HTTP/1.1\r\nhost: ${HOST}\r\nx-big: ${'a'.repeat(LARGE_ALLOWED_HEADER_BYTES)}\r\nconnection: close\r\n\r\n`), ['GET']);
  assert.equal(fits[0]?.status, 200);
  assert.deepEqual(strict.seen, []);
});

test('an absolute-form request target wins over Host (RFC 9112 §3.2.2)', async () => {
  const text = await rawRequest(stack, HOST, `GET https://${HOST}/absolute?x=1 HTTP/1.1\r\nhost: ${STRICT_HOST}\r\nconnection: close\r\n\r\n`);
  const [res] = parseRawResponses(text, ['GET']);
  assert.equal(res?.status, 200);
  assert.equal(lastSeen('/absolute?x=1')?.headers.host, HOST);
  assert.deepEqual(strict.seen, []);
});

// ---- exact request targets ---------------------------------------------------------------

test('a path in normal form and any query reach the origin untouched (HTTP/1.1 and HTTP/2)', async () => {
  const text = await rawRequest(stack, HOST, `GET ${TRICKY_TARGET} HTTP/1.1\r\nhost: ${HOST}\r\nconnection: close\r\n\r\n`);
  assert.equal(parseRawResponses(text, ['GET'])[0]?.status, 200);
  assert.equal(origin.seen.at(-1)?.url, TRICKY_TARGET);
  const session = await h2Connect(stack, HOST);
  try {
    const before = origin.seen.length;
    const res = await h2Request(session, { ':path': TRICKY_TARGET, ':authority': HOST });
    assert.equal(res.status, 200);
    assert.equal(origin.seen.length, before + 1);
    assert.equal(origin.seen.at(-1)?.url, TRICKY_TARGET);
  } finally {
    session.destroy();
  }
});

// ---- bodiless responses, trailers, hop-by-hop --------------------------------------------

test('HEAD, 204 and 304 carry no body: four pipelined answers frame exactly', async () => {
  const methods = ['HEAD', 'GET', 'GET', 'GET'];
  const text = await rawRequest(
    stack,
    HOST,
    `HEAD /plain HTTP/1.1\r\nhost: ${HOST}\r\n\r\n` +
      `GET /nocontent HTTP/1.1\r\nhost: ${HOST}\r\n\r\n` +
      `GET /notmodified HTTP/1.1\r\nhost: ${HOST}\r\nif-none-match: "v1"\r\n\r\n` +
      `GET /last HTTP/1.1\r\nhost: ${HOST}\r\nconnection: close\r\n\r\n`,
  );
  // Each answer's head is followed directly by the next status line.
  const heads = text.split('\r\n\r\n');
  assert.match(heads[1] ?? '', /^HTTP\/1\.1 204 /);
  assert.match(heads[2] ?? '', /^HTTP\/1\.1 304 /);
  assert.match(heads[3] ?? '', /^HTTP\/1\.1 200 /);
  const responses = parseRawResponses(text, methods);
  assert.deepEqual(responses.map((r) => r.status), [200, 204, 304, 200]);
  assert.equal(responses[1]?.headers['transfer-encoding'], undefined);
  assert.equal(responses[2]?.headers['etag']?.[0], '"v1"');
  assert.equal(responses[3]?.body, 'GET /last\n');
});

test('a chunked request with trailers is proxied; its body arrives intact', async () => {
  const text = await rawRequest(
    stack,
    HOST,
    `POST /sha256 HTTP/1.1\r\nhost: ${HOST}\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\nconnection: close\r\n\r\n` +
      '5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: 42\r\n\r\n',
  );
  const [res] = parseRawResponses(text, ['POST']);
  assert.equal(res?.status, 200, text);
  assert.deepEqual(JSON.parse(res!.body), { sha256: sha256(Buffer.from('hello world')), length: 11 });
  assert.equal(lastSeen('/sha256')?.headers['trailer'], undefined);
});

test('hop-by-hop request headers are stripped: Connection and what it names, Keep-Alive, TE, Upgrade, Proxy-*', async () => {
  const text = await rawRequest(
    stack,
    HOST,
    `GET /echo HTTP/1.1\r\nhost: ${HOST}\r\nconnection: close, x-drop-me\r\nx-drop-me: secret\r\nkeep-alive: timeout=5\r\nte: trailers\r\n` +
      `upgrade: foo/1\r\nproxy-authorization: Basic dXNlcjpwYXNz\r\nproxy-connection: keep-alive\r\nx-keep-me: yes\r\n\r\n`,
  );
  const [res] = parseRawResponses(text, ['GET']);
  assert.equal(res?.status, 200, text);
  const seen = (JSON.parse(res!.body) as { headers: Record<string, string> }).headers;
  assert.equal(seen['x-keep-me'], 'yes');
  for (const name of ['x-drop-me', 'keep-alive', 'te', 'upgrade', 'proxy-authorization', 'proxy-connection']) {
    assert.equal(seen[name], undefined, `${name} reached the origin`);
  }
  assert.doesNotMatch(seen['connection'] ?? '', /x-drop-me/i);
});

test('hop-by-hop response headers are stripped on the way back (HTTP/1.1)', async () => {
  const [res] = parseRawResponses(await rawRequest(stack, HOST, `GET /hop HTTP/1.1\r\nhost: ${HOST}\r\nconnection: close\r\n\r\n`), ['GET']);
  assert.equal(res?.status, 200);
  assert.deepEqual(res?.headers['x-end-to-end'], ['kept']);
  for (const name of ['x-hop-secret', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'upgrade']) {
    assert.equal(res?.headers[name], undefined, `${name} reached the browser`);
  }
  assert.deepEqual(res?.headers['connection'], ['close']);
});

// ---- request body idle timeout -----------------------------------------------------------

test('an upload that stalls before the response head gets 408; the origin sees its request aborted; logged with request_id', async () => {
  const before = origin.seen.length;
  const conn = await RawConnection.open(stack, HOST);
  try {
    conn.write(`POST /hold HTTP/1.1\r\nhost: ${HOST}\r\ncontent-length: 1000000\r\n\r\n`);
    conn.write(crypto.randomBytes(1000));
    const record = await waitFor('origin saw /hold', () => origin.seen.slice(before).find((r) => r.url === '/hold'), ANSWER_TIMEOUT_MS);
    const [res] = parseRawResponses(await conn.waitForClose(), ['POST']);
    assert.equal(res?.status, 408);
    assert.deepEqual(res?.headers['connection'], ['close']);
    const requestId = res?.headers['x-hopgate-request-id']?.[0];
    await stack.ingress.waitForLog('idle cancel logged', (r) => r.msg === 'request body idle: cancelling' && r['request_id'] === requestId);
    await waitFor('origin saw the request aborted', () => record.closedEarly, ANSWER_TIMEOUT_MS);
    assert.equal(record.complete, false);
  } finally {
    conn.close();
  }
});

test('HTTP/2: a stalled upload gets 408; a stall after the response head resets the stream; both abort the origin request', async () => {
  const session = await h2Connect(stack, HOST);
  try {
    const before = origin.seen.length;
    const stalled = session.request({ ':method': 'POST', ':path': '/hold', ':authority': HOST }, { endStream: false });
    stalled.on('error', () => undefined);
    stalled.write(crypto.randomBytes(1000));
    const head = await new Promise<http2.IncomingHttpHeaders>((r) => stalled.once('response', r));
    assert.equal(head[':status'], 408);
    stalled.resume();
    const record = await waitFor('origin saw /hold', () => origin.seen.slice(before).find((r) => r.url === '/hold'), ANSWER_TIMEOUT_MS);
    await waitFor('origin saw /hold aborted', () => record.closedEarly, ANSWER_TIMEOUT_MS);
    assert.equal(record.complete, false);

    const duplex = session.request({ ':method': 'POST', ':path': '/duplex', ':authority': HOST }, { endStream: false });
    duplex.on('error', () => undefined);
    duplex.write('only chunk');
    const duplexHead = await new Promise<http2.IncomingHttpHeaders>((r) => duplex.once('response', r));
    assert.equal(duplexHead[':status'], 200);
    duplex.resume();
    await new Promise<void>((r) => duplex.once('close', () => r()));
    assert.equal(duplex.rstCode, http2.constants.NGHTTP2_CANCEL);
    const duplexRecord = lastSeen('/duplex');
    await waitFor('origin saw /duplex aborted', () => duplexRecord?.closedEarly, ANSWER_TIMEOUT_MS);
  } finally {
    session.destroy();
  }
});

test('a slow upload that keeps making progress outlives the body idle and the response timeouts', { timeout: 60_000 }, async () => {
  assert.ok(SLOW_UPLOAD_CHUNKS * SLOW_UPLOAD_GAP_MS > RESPONSE_TIMEOUT_MS);
  const session = await h2Connect(stack, HOST);
  try {
    const req = session.request({ ':method': 'POST', ':path': '/sha256', ':authority': HOST }, { endStream: false });
    req.on('error', () => undefined);
    const head = new Promise<http2.IncomingHttpHeaders>((r) => req.once('response', r));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((r) => req.once('end', () => r()));
    const sent: Buffer[] = [];
    for (let i = 0; i < SLOW_UPLOAD_CHUNKS; i++) {
      const chunk = crypto.randomBytes(512);
      sent.push(chunk);
      req.write(chunk);
      await new Promise((r) => setTimeout(r, SLOW_UPLOAD_GAP_MS));
    }
    req.end();
    assert.equal((await head)[':status'], 200);
    await ended;
    const all = Buffer.concat(sent);
    assert.deepEqual(JSON.parse(Buffer.concat(chunks).toString()), { sha256: sha256(all), length: all.length });
  } finally {
    session.destroy();
  }
});
