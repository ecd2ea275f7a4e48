/**
 * Limits: the hub's per-agent cap on streams in flight (503 + Retry-After at once, slots
 * freed by cancels and by every error path), and the agent's timeouts towards local
 * services (connect, response head, body idle), each answered with a 504 (its reason, naming
 * the service, in the logs only) or a cut response, and logged with the request id.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { Stack, waitFor, freeTcpPort, type ManagedProcess, type LogRecord } from '@hopgate/testkit';
import { startOrigin, startStuckListener, PublicClient, assertPublicError, waitForIngressReason, type Origin, type Reply, type StuckListener } from './helpers.js';

/** HOPGATE_MAX_STREAMS_PER_AGENT of the hub under test. */
const CAP = 4;
/** The agent limits of `timebox`, short so each path runs in about a second, in ms. */
const CONNECT_TIMEOUT_MS = 500;
const RESPONSE_HEADER_TIMEOUT_MS = 800;
const BODY_IDLE_TIMEOUT_MS = 800;
/** undici's own connect timeout, met if origin_connect_timeout_ms were not applied, in ms. */
const UNDICI_DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** The ingress's own wait for a response head: far above the agent's limits, in ms. */
const INGRESS_RESPONSE_TIMEOUT_MS = 30_000;
/** A full agent is refused at once: the 503 arrives within this, in ms. */
const BUSY_ANSWER_DEADLINE_MS = 1_000;
/** Error-path requests in a row: one more than the cap, so a leaked slot per request shows as a 503. */
const REPEATS = CAP + 1;
/** Per test: a path that hangs instead of failing shows up as a failure, not a stuck run, in ms. */
const TEST_TIMEOUT_MS = 60_000;

const CAP_HOST = 'cap.hopgate.test';
const TIME_HOST = 'time.hopgate.test';

let stack: Stack;
let origin: Origin;
let stuck: StuckListener;
let silent: net.Server;
let wss: WebSocketServer;
let wsClosed = 0;
let pub: PublicClient;
let capAgent: ManagedProcess;
let timeAgent: ManagedProcess;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-limits-'));
  stack = await Stack.start({
    dir,
    hubs: 1,
    hubEnv: { HOPGATE_MAX_STREAMS_PER_AGENT: String(CAP) },
    ingressEnv: { HOPGATE_RESPONSE_TIMEOUT_MS: String(INGRESS_RESPONSE_TIMEOUT_MS) },
  });
  origin = await startOrigin('limits');
  stuck = await startStuckListener();
  // Accepts, reads, never answers.
  silent = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.resume();
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => {
    ws.on('error', () => undefined);
    ws.once('close', () => (wsClosed += 1));
    ws.send('hello');
  });
  const closedPort = await freeTcpPort();

  const capToken = await stack.addClient('capbox');
  await stack.setRoute(CAP_HOST, '/', 'capbox/web');
  capAgent = await stack.startAgent({ clientId: 'capbox', token: capToken, services: { web: origin.address } });

  const timeToken = await stack.addClient('timebox');
  await stack.setRoute(TIME_HOST, '/', 'timebox/web');
  await stack.setRoute(TIME_HOST, '/stuck', 'timebox/stuck');
  await stack.setRoute(TIME_HOST, '/silent', 'timebox/silent');
  await stack.setRoute(TIME_HOST, '/chat', 'timebox/chat');
  await stack.setRoute(TIME_HOST, '/gone', 'timebox/gone');
  await stack.setRoute(TIME_HOST, '/nosuch', 'timebox/nosuch');
  timeAgent = await stack.startAgent({
    clientId: 'timebox',
    token: timeToken,
    services: {
      web: origin.address,
      stuck: stuck.address,
      silent: `127.0.0.1:${(silent.address() as AddressInfo).port}`,
      chat: `127.0.0.1:${(wss.address() as AddressInfo).port}`,
      gone: `127.0.0.1:${closedPort}`,
    },
    extra: {
      origin_connect_timeout_ms: CONNECT_TIMEOUT_MS,
      response_header_timeout_ms: RESPONSE_HEADER_TIMEOUT_MS,
      body_idle_timeout_ms: BODY_IDLE_TIMEOUT_MS,
    },
  });
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await stack?.stop();
  await origin?.close();
  await stuck?.close();
  await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
  await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
});

function clientFor(host: string): Client {
  return new Client(`https://127.0.0.1:${stack.httpsPort}`, {
    connect: { ca: fs.readFileSync(stack.ca.certFile, 'utf8'), servername: host },
  });
}

function requestIdOf(reply: Reply): string {
  const id = reply.headers['x-hopgate-request-id'];
  assert.equal(typeof id, 'string', 'every answer carries x-hopgate-request-id');
  return id as string;
}

/** Waits for a log line of `proc` about request `requestId` whose message matches `msg`. */
function waitForRequestLog(proc: ManagedProcess, requestId: string, msg: RegExp): Promise<LogRecord> {
  return proc.waitForLog(`log of ${requestId} matching ${msg}`, (r) => r['request_id'] === requestId && msg.test(String(r.msg)));
}

/** A GET held open by the origin on its own connection (so it can be cancelled alone). */
function holdRequest(host: string, pathname: string): { client: Client; settled: Promise<unknown> } {
  const client = clientFor(host);
  const settled = client.request({ path: pathname, method: 'GET', headers: { host } }).then(
    async (res) => {
      for await (const _ of res.body) void _;
      return res.statusCode;
    },
    (err: unknown) => err,
  );
  return { client, settled };
}

/** GET /slow: the head and first chunk, then how the body finished ('ended' or 'error:...'). */
async function slowDownload(host: string, client: Client): Promise<{ status: number; requestId: string; first: string; ended: Promise<string> }> {
  const res = await client.request({ path: '/slow', method: 'GET', headers: { host } });
  const first = await new Promise<string>((resolve) => res.body.once('data', (c: Buffer) => resolve(c.toString())));
  const ended = new Promise<string>((resolve) => {
    res.body.on('data', () => undefined);
    res.body.once('end', () => resolve('ended'));
    res.body.once('error', (err: Error & { code?: string }) => resolve(`error:${err.code ?? err.message}`));
  });
  return { status: res.statusCode, requestId: String(res.headers['x-hopgate-request-id']), first, ended };
}

function openSocket(pathname: string): Promise<WebSocket> {
  const options: ClientOptions & tls.ConnectionOptions = { headers: { host: TIME_HOST }, servername: TIME_HOST, ca: fs.readFileSync(stack.ca.certFile) };
  const ws = new WebSocket(`wss://127.0.0.1:${stack.httpsPort}${pathname}`, options);
  return new Promise((resolve, reject) => {
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
}

/** An upgrade that the ingress answers with an error: its status and body. */
function failedUpgrade(pathname: string): Promise<{ status: number; body: string; requestId: string }> {
  const options: ClientOptions & tls.ConnectionOptions = { headers: { host: TIME_HOST }, servername: TIME_HOST, ca: fs.readFileSync(stack.ca.certFile) };
  const ws = new WebSocket(`wss://127.0.0.1:${stack.httpsPort}${pathname}`, options);
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('upgrade unexpectedly succeeded')));
    ws.once('error', () => undefined);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body, requestId: String(res.headers['x-hopgate-request-id']) }));
    });
  });
}

test(`per-agent cap: ${CAP} hanging requests fill it, the next gets 503 + Retry-After at once; cancelling frees every slot`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const hangsBefore = origin.seen.filter((r) => r.url === '/hang').length;
  const closedBefore = origin.hangClosed();
  const held = Array.from({ length: CAP }, () => holdRequest(CAP_HOST, '/hang'));
  await waitFor(`origin holds ${CAP} /hang requests`, () => origin.seen.filter((r) => r.url === '/hang').length - hangsBefore >= CAP);

  const started = Date.now();
  const busy = await pub.request(CAP_HOST, '/hello');
  const elapsed = Date.now() - started;
  assert.equal(busy.status, 503);
  assert.ok(elapsed < BUSY_ANSWER_DEADLINE_MS, `503 took ${elapsed} ms`);
  assert.equal(busy.headers['retry-after'], '1');
  assertPublicError(busy.body.toString(), 'ERR_BUSY', requestIdOf(busy));
  await waitForIngressReason(stack, requestIdOf(busy), new RegExp(`client "capbox" has ${CAP} requests in flight \\(limit ${CAP}\\)`));
  const rejected = await waitForRequestLog(stack.hubs[0]!.process, requestIdOf(busy), /too many streams in flight/);
  assert.equal(rejected['max_streams'], CAP);

  // The browsers leave: every hop cancels (the origin sees each connection close).
  await Promise.all(held.map((h) => h.client.destroy()));
  await Promise.all(held.map((h) => h.settled));
  await waitFor('origin saw the 4 cancels', () => origin.hangClosed() - closedBefore >= CAP);

  // Every slot is free again: CAP new requests are in flight at once, and the cap still holds.
  const slowClosedBefore = origin.slowClosed();
  const clients = Array.from({ length: CAP }, () => clientFor(CAP_HOST));
  try {
    const downloads = await Promise.all(clients.map((c) => slowDownload(CAP_HOST, c)));
    for (const d of downloads) {
      assert.equal(d.status, 200);
      assert.equal(d.first, 'first chunk\n');
    }
    assert.equal((await pub.request(CAP_HOST, '/hello')).status, 503);
  } finally {
    await Promise.all(clients.map((c) => c.destroy()));
  }
  await waitFor('origin saw the downloads cancelled', () => origin.slowClosed() - slowClosedBefore >= CAP);
  assert.equal((await pub.request(CAP_HOST, '/hello')).status, 200);
  assert.equal(capAgent.exited, false);
});

test(`origin_connect_timeout_ms: a local service that never accepts -> 504, the service named in the logs, ${REPEATS} times in a row`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const expected = new RegExp(`local service "stuck" at 127\\.0\\.0\\.1:${stuck.port} did not accept the connection within ${CONNECT_TIMEOUT_MS} ms`);
  for (let i = 0; i < REPEATS; i++) {
    const started = Date.now();
    const res = await pub.request(TIME_HOST, '/stuck/page');
    assert.ok(Date.now() - started < UNDICI_DEFAULT_CONNECT_TIMEOUT_MS, 'the configured connect limit applied, not the default');
    assert.equal(res.status, 504, res.body.toString());
    assertPublicError(res.body.toString(), 'ERR_TIMEOUT', requestIdOf(res));
    await waitForIngressReason(stack, requestIdOf(res), expected);
    await waitForRequestLog(timeAgent, requestIdOf(res), expected);
  }
});

test('origin_connect_timeout_ms applies to WebSocket upgrades too', { timeout: TEST_TIMEOUT_MS }, async () => {
  const started = Date.now();
  const res = await failedUpgrade('/stuck/ws');
  assert.ok(Date.now() - started < UNDICI_DEFAULT_CONNECT_TIMEOUT_MS, 'the configured connect limit applied');
  assert.equal(res.status, 504);
  const expected = new RegExp(`local service "stuck" at 127\\.0\\.0\\.1:${stuck.port} did not accept the connection within ${CONNECT_TIMEOUT_MS} ms`);
  assertPublicError(res.body, 'ERR_TIMEOUT', res.requestId);
  await waitForIngressReason(stack, res.requestId, expected);
  await waitForRequestLog(timeAgent, res.requestId, expected);
});

test(`response_header_timeout_ms: no response head -> 504 (the service named in the logs), local request aborted, ${REPEATS} times (GET and POST)`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const closedBefore = origin.hangClosed();
  const expected = new RegExp(`local service "web" sent no response headers within ${RESPONSE_HEADER_TIMEOUT_MS} ms`);
  for (let i = 0; i < REPEATS; i++) {
    const post = i % 2 === 1;
    const started = Date.now();
    const res = await pub.request(TIME_HOST, '/hang', post ? { method: 'POST', body: Buffer.alloc(64 * 1024, 7) } : {});
    assert.equal(res.status, 504, res.body.toString());
    assertPublicError(res.body.toString(), 'ERR_TIMEOUT', requestIdOf(res));
    await waitForIngressReason(stack, requestIdOf(res), expected);
    assert.ok(Date.now() - started < INGRESS_RESPONSE_TIMEOUT_MS, 'the agent answered, not the ingress timeout');
    await waitForRequestLog(timeAgent, requestIdOf(res), expected);
  }
  await waitFor('origin saw every hung request closed by the agent', () => origin.hangClosed() - closedBefore >= REPEATS);
});

/** A trickled upload: this many chunks, this far apart (2.4 s in all, three times the head timeout). */
const TRICKLE_CHUNKS = 12;
const TRICKLE_GAP_MS = 200;

test('response_header_timeout_ms counts from the end of the request: an upload longer than it is served whole', { timeout: TEST_TIMEOUT_MS }, async () => {
  const chunk = Buffer.alloc(16 * 1024, 3);
  async function* trickle(): AsyncGenerator<Buffer> {
    for (let i = 0; i < TRICKLE_CHUNKS; i++) {
      yield chunk;
      await new Promise((r) => setTimeout(r, TRICKLE_GAP_MS));
    }
  }
  const client = clientFor(TIME_HOST);
  try {
    const started = Date.now();
    const res = await client.request({ path: '/sha256', method: 'POST', headers: { host: TIME_HOST }, body: Readable.from(trickle()) });
    const reply = (await res.body.json()) as { length: number };
    assert.equal(res.statusCode, 200);
    assert.equal(reply.length, TRICKLE_CHUNKS * chunk.length);
    assert.ok(Date.now() - started > RESPONSE_HEADER_TIMEOUT_MS * 2, 'the upload outlasted the head timeout');
  } finally {
    await client.close();
  }
});

test('response_header_timeout_ms applies to WebSocket upgrades too', { timeout: TEST_TIMEOUT_MS }, async () => {
  const res = await failedUpgrade('/silent/ws');
  assert.equal(res.status, 504);
  assertPublicError(res.body, 'ERR_TIMEOUT', res.requestId);
  await waitForIngressReason(stack, res.requestId, new RegExp(`local service "silent" sent no response headers within ${RESPONSE_HEADER_TIMEOUT_MS} ms`));
});

test(`body_idle_timeout_ms: an origin that stalls mid-body -> the browser's response is cut, not completed, ${REPEATS} times`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const closedBefore = origin.slowClosed();
  const expected = new RegExp(`local service "web" sent no body data for ${BODY_IDLE_TIMEOUT_MS} ms`);
  for (let i = 0; i < REPEATS; i++) {
    const client = clientFor(TIME_HOST);
    try {
      const d = await slowDownload(TIME_HOST, client);
      assert.equal(d.status, 200);
      assert.equal(d.first, 'first chunk\n');
      assert.match(await d.ended, /^error:/, 'a cut body must not look complete');
      await waitForRequestLog(timeAgent, d.requestId, expected);
    } finally {
      await client.destroy();
    }
  }
  await waitFor('origin saw every stalled response closed by the agent', () => origin.slowClosed() - closedBefore >= REPEATS);
});

test('an upgrade answered with a streaming non-101 response, then abandoned: the agent closes the local request', { timeout: TEST_TIMEOUT_MS }, async () => {
  const closedBefore = origin.slowClosed();
  const options: ClientOptions & tls.ConnectionOptions = { headers: { host: CAP_HOST }, servername: CAP_HOST, ca: fs.readFileSync(stack.ca.certFile) };
  const ws = new WebSocket(`wss://127.0.0.1:${stack.httpsPort}/slow`, options);
  ws.on('error', () => undefined);
  const first = await new Promise<string>((resolve, reject) => {
    ws.once('open', () => reject(new Error('upgrade unexpectedly succeeded')));
    ws.once('unexpected-response', (req, res) => {
      assert.equal(res.statusCode, 200);
      res.once('data', (c: Buffer) => {
        resolve(c.toString());
        // The browser gives up on this answer mid-body.
        req.destroy();
      });
    });
  });
  assert.equal(first, 'first chunk\n');
  await waitFor('origin saw the abandoned answer closed', () => origin.slowClosed() > closedBefore);
});

test(`refused and unknown local services free their slots too (${REPEATS} each)`, { timeout: TEST_TIMEOUT_MS }, async () => {
  for (let i = 0; i < REPEATS; i++) {
    const refused = await pub.request(TIME_HOST, '/gone');
    assert.equal(refused.status, 502);
    assertPublicError(refused.body.toString(), 'ERR_ORIGIN_UNREACHABLE', requestIdOf(refused));
    await waitForIngressReason(stack, requestIdOf(refused), /cannot reach local service "gone"/);
    const unknown = await pub.request(TIME_HOST, '/nosuch');
    assert.equal(unknown.status, 502);
    assertPublicError(unknown.body.toString(), 'ERR_UNKNOWN_SERVICE', requestIdOf(unknown));
    await waitForIngressReason(stack, requestIdOf(unknown), /agent has no service "nosuch"/);
  }
});

test(`after every error path no slot leaked: ${CAP} WebSockets fill the cap exactly, then the next request gets 503`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const sockets = await Promise.all(Array.from({ length: CAP }, () => openSocket('/chat')));
  try {
    const busy = await pub.request(TIME_HOST, '/hello');
    assert.equal(busy.status, 503);
    assertPublicError(busy.body.toString(), 'ERR_BUSY', requestIdOf(busy));
    await waitForIngressReason(stack, requestIdOf(busy), new RegExp(`client "timebox" has ${CAP} requests in flight \\(limit ${CAP}\\)`));
  } finally {
    const closedBefore = wsClosed;
    for (const ws of sockets) ws.terminate();
    await waitFor('origin saw the sockets closed', () => wsClosed - closedBefore >= CAP);
  }
  const res = await pub.request(TIME_HOST, '/hello');
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'hello from limits\n');
});
