/**
 * A malicious agent (hostile-agent.ts) against the ingress (issue 9, "Response framing from
 * agents"): an agent is not trusted to frame HTTP/1.1. Each answer it sends on a request
 * stream is checked at the browser's end, over HTTP/1.1 (TLS, keep-alive) and HTTP/2:
 * header names must be tokens (RFC 9110 §5.1), values free of CR, LF and NUL (§5.5), the
 * status 200-599 (101 only on upgrades), the body exactly its Content-Length (RFC 9112 §6.3:
 * cut, or the connection closed), no body after HEAD, 204 or 304 (RFC 9110 §6.4.1), bad wire
 * framing a 502 for that request alone; the same on the WebSocket upgrade path. After every
 * test the ingress, the hub, the hostile agent's session and a real agent of another
 * client still serve.
 */
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import { Stack, waitFor } from '@hopgate/testkit';
import { MessageTag, encodeMessage, type HeaderPairs } from '@hopgate/wire';
import { PublicClient } from './helpers.js';
import { RawConnection, h2Connect, ANSWER_TIMEOUT_MS } from './edge-helpers.js';
import { HostileAgent, responseHeadFrame, sendThenEnd, wireFrame, wireString, type HostileScript } from './hostile-agent.js';
import { readResponses, responseHeader, closesConnection, type ReadResult } from './http1-response-reader.js';
import { startFuzzOrigin, serviceBody, type FuzzOrigin } from './fuzz-origin.js';

const EVIL_HOST = 'evil.hopgate.test';
const GOOD_HOST = 'good.hopgate.test';
const REQUEST_ID_HEADER = 'x-hopgate-request-id';
/** What the hostile agent answers on `/ok`: a well-formed response. */
const OK_BODY = 'ok\n';
/** A whole HTTP/1.1 response hidden in a body: if a browser ever parses it, framing was lost. */
const SMUGGLED_RESPONSE = 'HTTP/1.1 200 OK\r\ncontent-length: 8\r\nx-smuggled: yes\r\n\r\nsmuggled';
const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_PROTOCOL_ERROR } = http2.constants;
/** Codes with which the ingress may cut an HTTP/2 response it cannot complete (RFC 9113 §7). */
const SERVER_CUT_CODES: ReadonlySet<number> = new Set([NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR]);

function head(status: number, headers: HeaderPairs): Buffer {
  return responseHeadFrame(status, headers);
}

const okScript: HostileScript = sendThenEnd(head(200, [['content-type', 'text/plain'], ['content-length', String(OK_BODY.length)]]), Buffer.from(OK_BODY));

/** Response header names that are not RFC 9110 §5.1 tokens. */
const BAD_NAMES = ['x bad', 'x\r\nx-injected', 'x\nx-injected', '', 'x:y', 'x\u0000', 'x\u007f', 'x(y)', 'x\u00fc', 'x\ty', ' x'];
/** Response header values with CR, LF or NUL (RFC 9110 §5.5). */
const BAD_VALUES = ['a\r\nx-injected: 1', 'a\nx-injected: 1', 'a\rx-injected: 1', 'a\u0000b', 'a\r\n\r\nHTTP/1.1 200 OK', '\r\n'];
/** Statuses an ordinary request must never get from an agent: 1xx (101 included) and above 599. */
const BAD_STATUSES = [100, 101, 102, 103, 150, 199, 600, 700, 999];
/** Hand-made statuses the wire codec itself refuses (the ingress cannot decode the head; the hub passes it on undecoded). */
const UNDECODABLE_STATUSES = [0, 42, 99, 1000, -200];

/** Bad framing on the wire, instead of a response head. */
const BAD_FRAMING: ReadonlyArray<[name: string, script: HostileScript]> = [
  ['garbage bytes', sendThenEnd(Buffer.from(`${SMUGGLED_RESPONSE}`))],
  ['a truncated head, then FIN', sendThenEnd(head(200, [['content-length', '2']]).subarray(0, 12))],
  ['an unknown message type', sendThenEnd(wireFrame(99, Buffer.from([0, 200, 0, 0])), Buffer.from('hi'))],
  ['a request_head instead of a response head', sendThenEnd(encodeMessage({ type: 'request_head', request_id: 'x', service: 'web', method: 'GET', path: '/', headers: [], has_body: false }))],
  ['a zero-length frame', sendThenEnd(Buffer.from([0, 0, 0, 0]))],
  ['a frame announcing 4 GiB', sendThenEnd(Buffer.from([0xff, 0xff, 0xff, 0xff, MessageTag.response_head]))],
  ['a head whose header value is cut', sendThenEnd(wireFrame(MessageTag.response_head, Buffer.concat([Buffer.from([0, 200, 0, 1]), wireString('content-type'), Buffer.from([0, 10]), Buffer.from('text')])))],
  ['a head with a name and no value', sendThenEnd(wireFrame(MessageTag.response_head, Buffer.concat([Buffer.from([0, 200, 0, 1]), wireString('a')])))],
  ['a head whose status is cut', sendThenEnd(wireFrame(MessageTag.response_head, Buffer.from([0])))],
  ['a head with an extension longer than the message', sendThenEnd(wireFrame(MessageTag.response_head, Buffer.from([0, 200, 0, 0, 1, 0, 40, 1, 2])))],
  ['nothing, then FIN', sendThenEnd()],
  ['nothing, then a reset', (stream) => stream.reset(0)],
];

const scripts = new Map<string, HostileScript>([['/ok', okScript]]);
BAD_NAMES.forEach((name, i) => scripts.set(`/bad-name/${i}`, sendThenEnd(head(200, [['content-type', 'text/plain'], [name, 'v'], ['content-length', '3']]), Buffer.from('bad'))));
BAD_VALUES.forEach((value, i) => scripts.set(`/bad-value/${i}`, sendThenEnd(head(200, [['content-type', 'text/plain'], ['x-value', value], ['content-length', '3']]), Buffer.from('bad'))));
for (const status of [...BAD_STATUSES, ...UNDECODABLE_STATUSES]) scripts.set(`/status/${status}`, sendThenEnd(head(status, [['content-length', '3']]), Buffer.from('bad')));
BAD_FRAMING.forEach(([, script], i) => scripts.set(`/framing/${i}`, script));
scripts.set('/longer', sendThenEnd(head(200, [['content-type', 'text/plain'], ['content-length', '5']]), Buffer.from(`hello${SMUGGLED_RESPONSE}`)));
scripts.set('/longer-second-head', sendThenEnd(head(200, [['content-length', '0']]), head(200, [['x-second', 'head'], ['content-length', '8']]), Buffer.from('smuggled')));
scripts.set('/shorter', sendThenEnd(head(200, [['content-type', 'text/plain'], ['content-length', '10']]), Buffer.from('short')));
scripts.set('/head-body', sendThenEnd(head(200, [['content-type', 'text/plain'], ['content-length', '5']]), Buffer.from(`hello${SMUGGLED_RESPONSE}`)));
scripts.set('/no-content-body', sendThenEnd(head(204, [['x-kind', 'no-content']]), Buffer.from(SMUGGLED_RESPONSE)));
scripts.set('/not-modified-body', sendThenEnd(head(304, [['etag', '"v1"']]), Buffer.from(SMUGGLED_RESPONSE)));
// WebSocket upgrade answers.
scripts.set('/ws/crlf-value', sendThenEnd(head(101, [['upgrade', 'websocket'], ['connection', 'Upgrade'], ['sec-websocket-accept', 'x\r\nx-injected: 1']])));
scripts.set('/ws/lf-value', sendThenEnd(head(101, [['upgrade', 'websocket'], ['connection', 'Upgrade'], ['x-value', 'a\nx-injected: 1']])));
scripts.set('/ws/bad-name', sendThenEnd(head(101, [['upgrade', 'websocket'], ['connection', 'Upgrade'], ['x bad\r\nx-injected', '1']])));
scripts.set('/ws/longer', sendThenEnd(head(200, [['content-type', 'text/plain'], ['content-length', '5']]), Buffer.from(`hello${SMUGGLED_RESPONSE}`)));
scripts.set('/ws/status-600', sendThenEnd(head(600, [['content-length', '3']]), Buffer.from('bad')));
scripts.set('/ws/status-100', sendThenEnd(head(100, []), head(101, [['upgrade', 'websocket'], ['connection', 'Upgrade']])));

let stack: Stack;
let hostile: HostileAgent;
let goodOrigin: FuzzOrigin;
let client: PublicClient;

before(async () => {
  goodOrigin = await startFuzzOrigin('good');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-hostile-'));
  stack = await Stack.start({ dir, hubs: 1 });
  const evilToken = await stack.addClient('evil');
  await stack.setRoute(EVIL_HOST, '/', 'evil/web');
  const goodToken = await stack.addClient('good');
  await stack.setRoute(GOOD_HOST, '/', 'good/good');
  await stack.startAgent({ clientId: 'good', token: goodToken, services: { good: goodOrigin.address } });
  hostile = await HostileAgent.connect(stack, { clientId: 'evil', token: evilToken, scripts, fallback: okScript });
  client = new PublicClient(stack);
  // The ingress learns of the session through Redis: the first request may race it.
  await waitFor('the hostile agent serves /ok', async () => (await client.request(EVIL_HOST, '/ok')).status === 200, ANSWER_TIMEOUT_MS);
});

after(async () => {
  await client?.close();
  hostile?.close();
  await stack?.stop();
  await goodOrigin?.close();
});

// Throughout: the ingress, the hub, the hostile agent's session and another client's real agent keep serving.
afterEach(async () => {
  assert.deepEqual(stack.crashSigns(), []);
  assert.ok(hostile.connected, 'the hostile agent session is still up');
  const good = await client.request(GOOD_HOST, '/after');
  assert.equal(good.status, 200);
  assert.equal(good.body.toString(), serviceBody('good'));
  const evil = await client.request(EVIL_HOST, '/ok');
  assert.equal(evil.status, 200);
  assert.equal(evil.body.toString(), OK_BODY);
});

function get(pathname: string, method = 'GET'): string {
  return `${method} ${pathname} HTTP/1.1\r\nhost: ${EVIL_HOST}\r\n\r\n`;
}

function upgradeRequest(pathname: string): string {
  return `GET ${pathname} HTTP/1.1\r\nhost: ${EVIL_HOST}\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n`;
}

/**
 * Waits until `count` final answers to `methods` are read on `conn`, or it closed, or its
 * bytes are malformed, or ANSWER_TIMEOUT_MS passed; returns what was read (the caller's
 * assertions then say what is missing).
 */
async function answers(conn: RawConnection, methods: string[], count: number, upgrade = false): Promise<ReadResult> {
  const read = (): ReadResult => readResponses(Buffer.from(conn.text, 'latin1'), methods.map((method) => ({ method, upgrade })), conn.closed);
  const settled = (r: ReadResult): boolean => r.problem !== undefined || r.finals >= count || conn.closed;
  await waitFor(`${count} answer(s) on the raw connection`, () => settled(read()), ANSWER_TIMEOUT_MS).catch(() => undefined);
  return read();
}

/** Whether any answer read carries a header the agent smuggled in (by CR/LF or in a body). */
function smuggledHeader(result: ReadResult): boolean {
  return result.responses.some((r) => r.headers.some(([name]) => /injected|smuggled|second/i.test(name)));
}

/** One HTTP/1.1 request to the hostile agent on a keep-alive connection, then `/ok` on the same one. */
async function keepAlivePair(pathname: string, method = 'GET'): Promise<{ first: ReadResult; both: ReadResult; text: string; closed: boolean }> {
  const conn = await RawConnection.open(stack, EVIL_HOST);
  try {
    conn.write(get(pathname, method));
    let first = await answers(conn, [method], 1);
    if (conn.closed || first.problem || first.responses.some(closesConnection)) {
      // The connection ends here: read everything it carried until the close.
      if (!first.problem) await conn.waitForClose().catch(() => undefined);
      first = readResponses(Buffer.from(conn.text, 'latin1'), [{ method, upgrade: false }], conn.closed);
      return { first, both: first, text: conn.text, closed: conn.closed };
    }
    conn.write(get('/ok'));
    const both = await answers(conn, [method, 'GET'], 2);
    return { first, both, text: conn.text, closed: conn.closed };
  } finally {
    conn.close();
  }
}

/** Checks a 502 from the edge for `what` and that `/ok` answered right after it on the same connection. */
function assert502ThenOk(what: string, pair: Awaited<ReturnType<typeof keepAlivePair>>): void {
  const message = `${what}: received ${JSON.stringify(pair.text.slice(0, 600))}`;
  assert.equal(pair.first.problem, undefined, message);
  const answer = pair.first.responses.find((r) => !r.interim);
  assert.ok(answer, message);
  assert.equal(answer.status, 502, message);
  assert.ok(responseHeader(answer, REQUEST_ID_HEADER), `${message}: ${REQUEST_ID_HEADER}`);
  assert.ok(!smuggledHeader(pair.both), `${message}: a smuggled header`);
  assert.equal(pair.first.responses.filter((r) => r.interim).length, 0, `${message}: no interim answer`);
  // The keep-alive connection goes on.
  assert.equal(pair.both.problem, undefined, message);
  assert.equal(pair.both.finals, 2, message);
  const ok = pair.both.responses.filter((r) => !r.interim)[1]!;
  assert.equal(ok.status, 200, message);
  assert.equal(ok.body.toString(), OK_BODY, message);
}

interface H2Outcome {
  status: number | undefined;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  endedCleanly: boolean;
  rstCode: number | undefined;
}

/** One HTTP/2 request; resolves when the stream closed, however it ended. */
function h2Exchange(session: http2.ClientHttp2Session, pathname: string, method = 'GET'): Promise<H2Outcome> {
  return new Promise((resolve) => {
    const stream = session.request({ ':method': method, ':path': pathname, ':authority': EVIL_HOST });
    const out: H2Outcome = { status: undefined, headers: {}, body: Buffer.alloc(0), endedCleanly: false, rstCode: undefined };
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      out.headers = h;
      out.status = Number(h[':status']);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => (out.endedCleanly = true));
    stream.on('error', () => undefined);
    stream.once('close', () => {
      out.body = Buffer.concat(chunks);
      out.rstCode = stream.rstCode;
      if (out.rstCode !== undefined && out.rstCode !== http2.constants.NGHTTP2_NO_ERROR) out.endedCleanly = false;
      resolve(out);
    });
  });
}

async function withH2<T>(fn: (session: http2.ClientHttp2Session) => Promise<T>): Promise<T> {
  const session = await h2Connect(stack, EVIL_HOST);
  try {
    return await fn(session);
  } finally {
    session.destroy();
  }
}

/** Checks an HTTP/2 502 from the edge for `what`, then `/ok` on the same session. */
async function assertH2502ThenOk(session: http2.ClientHttp2Session, what: string, pathname: string): Promise<void> {
  const res = await h2Exchange(session, pathname);
  const message = `${what}: ${JSON.stringify({ status: res.status, headers: res.headers, rst: res.rstCode, body: res.body.toString('latin1').slice(0, 200) })}`;
  assert.equal(res.status, 502, message);
  assert.ok(res.headers[REQUEST_ID_HEADER], message);
  assert.ok(!Object.keys(res.headers).some((n) => /injected|smuggled/i.test(n)), message);
  const ok = await h2Exchange(session, '/ok');
  assert.equal(ok.status, 200, `${what}: /ok after it`);
  assert.equal(ok.body.toString(), OK_BODY);
}

test('HTTP/1.1: a response header name that is not a token (RFC 9110 §5.1): 502 with a request id, never the header; the keep-alive connection goes on', async () => {
  for (let i = 0; i < BAD_NAMES.length; i++) assert502ThenOk(`header name ${JSON.stringify(BAD_NAMES[i])}`, await keepAlivePair(`/bad-name/${i}`));
});

test('HTTP/2: a response header name that is not a token: 502 with a request id; the session goes on', async () => {
  await withH2(async (session) => {
    for (let i = 0; i < BAD_NAMES.length; i++) await assertH2502ThenOk(session, `header name ${JSON.stringify(BAD_NAMES[i])}`, `/bad-name/${i}`);
  });
});

test('HTTP/1.1: a response header value with CR, LF or NUL (RFC 9110 §5.5): 502 with a request id, never the injected header; the keep-alive connection goes on', async () => {
  for (let i = 0; i < BAD_VALUES.length; i++) assert502ThenOk(`header value ${JSON.stringify(BAD_VALUES[i])}`, await keepAlivePair(`/bad-value/${i}`));
});

test('HTTP/2: a response header value with CR, LF or NUL: 502 with a request id; the session goes on', async () => {
  await withH2(async (session) => {
    for (let i = 0; i < BAD_VALUES.length; i++) await assertH2502ThenOk(session, `header value ${JSON.stringify(BAD_VALUES[i])}`, `/bad-value/${i}`);
  });
});

test(`HTTP/1.1: status ${BAD_STATUSES.join(', ')} on an ordinary request, and statuses the wire cannot carry: 502; the keep-alive connection goes on`, async () => {
  for (const status of [...BAD_STATUSES, ...UNDECODABLE_STATUSES]) assert502ThenOk(`status ${status}`, await keepAlivePair(`/status/${status}`));
});

test('HTTP/2: a 1xx, 101 or >599 status on an ordinary request: 502; the session goes on', async () => {
  await withH2(async (session) => {
    for (const status of [...BAD_STATUSES, ...UNDECODABLE_STATUSES]) await assertH2502ThenOk(session, `status ${status}`, `/status/${status}`);
  });
});

test('HTTP/1.1: a body longer than its Content-Length: exactly Content-Length bytes, and the excess never becomes a response on the connection', async () => {
  for (const [pathname, body] of [['/longer', 'hello'], ['/longer-second-head', '']] as const) {
    const pair = await keepAlivePair(pathname);
    const message = `${pathname}: received ${JSON.stringify(pair.text.slice(0, 600))}`;
    assert.ok(!smuggledHeader(pair.both), `${message}: a smuggled header`);
    assert.equal(pair.first.problem, undefined, `${message}: nothing but the answer, even before a close`);
    const first = pair.first.responses.find((r) => !r.interim);
    assert.ok(first, message);
    assert.equal(first.status, 200, message);
    assert.equal(first.body.toString(), body, message);
    // The second request on the connection gets its own answer, or the connection is closed.
    if (!pair.closed || pair.both.finals > 1) {
      assert.equal(pair.both.problem, undefined, message);
      assert.equal(pair.both.finals, 2, message);
      assert.equal(pair.both.responses.filter((r) => !r.interim)[1]!.body.toString(), OK_BODY, message);
    }
  }
});

test('HTTP/2: a body longer than its Content-Length: at most Content-Length bytes reach the browser, never a length error caught by the browser itself', async () => {
  await withH2(async (session) => {
    const res = await h2Exchange(session, '/longer');
    const message = JSON.stringify({ status: res.status, rst: res.rstCode, body: res.body.toString('latin1').slice(0, 200) });
    assert.equal(res.status, 200, message);
    assert.notEqual(res.rstCode, NGHTTP2_PROTOCOL_ERROR, `the ingress sent more DATA than content-length: ${message}`);
    assert.ok(res.endedCleanly ? res.body.toString() === 'hello' : SERVER_CUT_CODES.has(res.rstCode ?? -1) && 'hello'.startsWith(res.body.toString()), message);
    const ok = await h2Exchange(session, '/ok');
    assert.equal(ok.body.toString(), OK_BODY);
  });
});

test('HTTP/1.1: a body shorter than its Content-Length (the agent ends early): the connection closes after the cut body, never a complete answer or the next response', async () => {
  const conn = await RawConnection.open(stack, EVIL_HOST);
  try {
    // Pipelined: were the connection kept, the next answer would be read as the rest of the body.
    conn.write(get('/shorter') + get('/ok'));
    const text = await conn.waitForClose();
    const result = readResponses(Buffer.from(text, 'latin1'), [{ method: 'GET', upgrade: false }, { method: 'GET', upgrade: false }], true);
    assert.equal(result.finals, 0, `no complete answer: ${JSON.stringify(text)}`);
    assert.match(result.problem ?? '', /connection closed inside a body of 10 bytes/, JSON.stringify(text));
    assert.ok(text.endsWith('\r\n\r\nshort'), `the cut body, nothing after it: ${JSON.stringify(text)}`);
  } finally {
    conn.close();
  }
});

test('HTTP/2: a body shorter than its Content-Length: the ingress resets the stream (it does not end it cleanly)', async () => {
  await withH2(async (session) => {
    const res = await h2Exchange(session, '/shorter');
    const message = JSON.stringify({ status: res.status, rst: res.rstCode, clean: res.endedCleanly, body: res.body.toString('latin1') });
    assert.equal(res.endedCleanly, false, message);
    assert.ok(SERVER_CUT_CODES.has(res.rstCode ?? -1), `reset by the ingress, not a length error caught by the browser: ${message}`);
    const ok = await h2Exchange(session, '/ok');
    assert.equal(ok.body.toString(), OK_BODY);
  });
});

test('HTTP/1.1: a body after HEAD, 204 and 304 is not forwarded: pipelined answers stay in sync', async () => {
  const conn = await RawConnection.open(stack, EVIL_HOST);
  try {
    conn.write(get('/head-body', 'HEAD') + get('/no-content-body') + get('/not-modified-body') + get('/ok'));
    const result = await answers(conn, ['HEAD', 'GET', 'GET', 'GET'], 4);
    const message = JSON.stringify(conn.text.slice(0, 1_000));
    assert.equal(result.problem, undefined, message);
    assert.deepEqual(result.responses.map((r) => r.status), [200, 204, 304, 200], message);
    assert.deepEqual(result.responses.map((r) => r.body.toString()), ['', '', '', OK_BODY], message);
    assert.ok(!smuggledHeader(result), message);
  } finally {
    conn.close();
  }
});

test('HTTP/2: a body after HEAD, 204 and 304 is not forwarded', async () => {
  await withH2(async (session) => {
    for (const [pathname, method, status] of [['/head-body', 'HEAD', 200], ['/no-content-body', 'GET', 204], ['/not-modified-body', 'GET', 304]] as const) {
      const res = await h2Exchange(session, pathname, method);
      const message = `${method} ${pathname}: ${JSON.stringify({ status: res.status, rst: res.rstCode, body: res.body.toString('latin1') })}`;
      assert.equal(res.status, status, message);
      assert.equal(res.body.length, 0, message);
      assert.notEqual(res.rstCode, NGHTTP2_PROTOCOL_ERROR, message);
    }
    const ok = await h2Exchange(session, '/ok');
    assert.equal(ok.body.toString(), OK_BODY);
  });
});

test('HTTP/1.1: bad framing on the wire is a 502 for that request alone; the keep-alive connection goes on', async () => {
  for (let i = 0; i < BAD_FRAMING.length; i++) assert502ThenOk(BAD_FRAMING[i]![0], await keepAlivePair(`/framing/${i}`));
});

test('HTTP/2: bad framing on the wire is a 502 for that request alone, with other requests in flight on the session unaffected', async () => {
  await withH2(async (session) => {
    for (let i = 0; i < BAD_FRAMING.length; i++) {
      // A well-formed request in flight on the same session at the same time.
      const [bad, ok] = await Promise.all([h2Exchange(session, `/framing/${i}`), h2Exchange(session, '/ok')]);
      const what = BAD_FRAMING[i]![0];
      assert.equal(bad.status, 502, `${what}: ${JSON.stringify({ status: bad.status, rst: bad.rstCode })}`);
      assert.ok(bad.headers[REQUEST_ID_HEADER], what);
      assert.equal(ok.status, 200, `${what}: the request beside it`);
      assert.equal(ok.body.toString(), OK_BODY, what);
    }
  });
});

test('WebSocket upgrade: a 101 with CR/LF in a header value or a bad header name is refused with 502, never the injected header', async () => {
  for (const pathname of ['/ws/crlf-value', '/ws/lf-value', '/ws/bad-name']) {
    const conn = await RawConnection.open(stack, EVIL_HOST);
    try {
      conn.write(upgradeRequest(pathname));
      const result = await answers(conn, ['GET'], 1, true);
      const message = `${pathname}: ${JSON.stringify(conn.text.slice(0, 600))}`;
      assert.ok(!smuggledHeader(result), `${message}: the injected header reached the browser`);
      assert.equal(result.problem, undefined, message);
      assert.equal(result.responses[0]?.status, 502, message);
      assert.ok(responseHeader(result.responses[0]!, REQUEST_ID_HEADER), message);
    } finally {
      conn.close();
    }
  }
});

test('WebSocket upgrade: a non-101 answer is cut at its Content-Length and the connection closed', async () => {
  const conn = await RawConnection.open(stack, EVIL_HOST);
  try {
    conn.write(upgradeRequest('/ws/longer'));
    const text = await conn.waitForClose();
    const result = readResponses(Buffer.from(text, 'latin1'), [{ method: 'GET', upgrade: true }], true);
    assert.equal(result.problem, undefined, JSON.stringify(text));
    assert.equal(result.responses[0]?.status, 200, JSON.stringify(text));
    assert.equal(result.responses[0]?.body.toString(), 'hello', JSON.stringify(text));
    assert.ok(!smuggledHeader(result), JSON.stringify(text));
  } finally {
    conn.close();
  }
});

test('WebSocket upgrade: a 1xx other than 101, or a status above 599, is refused with 502', async () => {
  for (const pathname of ['/ws/status-600', '/ws/status-100']) {
    const c = await RawConnection.open(stack, EVIL_HOST);
    try {
      c.write(upgradeRequest(pathname));
      const result = await answers(c, ['GET'], 1, true);
      const message = `${pathname}: ${JSON.stringify(c.text.slice(0, 600))}`;
      assert.equal(result.problem, undefined, message);
      assert.deepEqual(result.responses.map((r) => r.status), [502], message);
    } finally {
      c.close();
    }
  }
});
