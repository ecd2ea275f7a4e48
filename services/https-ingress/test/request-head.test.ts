import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { MAX_HEADER_BYTES_LIMIT } from '@hopgate/config';
import { MAX_HEAD_BYTES } from '@hopgate/relay';
import type { HeaderPairs, RequestHead } from '@hopgate/wire';
import { checkResponseHead, encodeOpenHead, encodeRequestHead, errorBody, pipeResponseBody, statusForCode, type BodyOutcome } from '../src/index.js';

test('error codes map to edge statuses', () => {
  assert.equal(statusForCode('ERR_NO_ROUTE'), 404);
  assert.equal(statusForCode('ERR_CLIENT_OFFLINE'), 502);
  assert.equal(statusForCode('ERR_ORIGIN_UNREACHABLE'), 502);
  assert.equal(statusForCode('ERR_TIMEOUT'), 504);
  assert.equal(statusForCode('ERR_BUSY'), 503);
});

test('error bodies name the code and the request id', () => {
  assert.equal(errorBody('the tunnel did not answer in time', 'ing-1-ab-7', 'ERR_TIMEOUT'), 'hopgate: the tunnel did not answer in time (ERR_TIMEOUT)\nrequest id: ing-1-ab-7\n');
  assert.equal(errorBody('invalid Host', undefined), 'hopgate: invalid Host\n');
});

/** The OPEN head of `request` behind an envelope for `clientId` and `route`, as the ingress builds it. */
function openHead(clientId: string, route: string, request: RequestHead) {
  const encoded = encodeRequestHead(request);
  return encoded.ok ? encodeOpenHead({ clientId, route, hasBody: request.has_body }, encoded.bytes) : encoded;
}

function head(request: Partial<RequestHead>): RequestHead {
  return { type: 'request_head', request_id: 'ing-1-abcdef01-1', service: 'web', method: 'GET', path: '/', headers: [], has_body: false, ...request };
}

test('a request head at the largest configurable limit fits the relay once encoded', () => {
  // An ordinary browser head at the limit: a few usual fields and one large cookie.
  const headers: HeaderPairs = [
    ['host', 'app.example.com'],
    ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'],
    ['accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    ['accept-language', 'en-US,en;q=0.9'],
    ['cookie', `session=${'a'.repeat(MAX_HEADER_BYTES_LIMIT - 300)}`],
    ['x-forwarded-for', '203.0.113.7'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-host', 'app.example.com'],
  ];
  const open = openHead('c'.repeat(64), `app.example.com/${'p'.repeat(1000)}`, head({ headers, path: `/${'q'.repeat(2000)}` }));
  assert.ok(open.ok, open.ok ? '' : open.reason);
  assert.ok(MAX_HEADER_BYTES_LIMIT < MAX_HEAD_BYTES);
});

test('a head within the header limit that grows past the relay limit once encoded is refused, not thrown', () => {
  // 34 KiB of obs-text bytes: every one takes two bytes in UTF-8.
  const wide = head({ headers: [['x-wide', '\u00e9'.repeat(30 * 1024)], ['x-wide-2', '\u00e9'.repeat(4 * 1024)]] });
  const refused = openHead('c', 'r/', wide);
  assert.equal(refused.ok, false);
  assert.match(refused.ok ? '' : refused.reason, /exceeds the relay's limit of 65536/);
  // Thousands of tiny fields: each takes five bytes (two length prefixes and the name).
  const many: HeaderPairs = [];
  for (let i = 0; i < 14_000; i++) many.push(['a', '']);
  const manyRefused = openHead('c', 'r/', head({ headers: many }));
  assert.equal(manyRefused.ok, false);
  assert.match(manyRefused.ok ? '' : manyRefused.reason, /exceeds the relay's limit/);
});

test('response heads: status 200-599 (101 only on upgrades), token names, values without CR, LF, NUL or other controls', () => {
  const ok = (status: number, headers: HeaderPairs, method = 'GET', upgrade = false) => checkResponseHead({ type: 'response_head', status, headers }, method, upgrade);
  assert.equal(ok(200, [['content-type', 'text/plain'], ['x-tab', 'a\tb'], ['x-obs', 'caf\u00e9']]).ok, true);
  assert.equal(ok(599, []).ok, true);
  for (const status of [100, 101, 103, 199, 600, 999, 42]) assert.equal(ok(status, []).ok, false, String(status));
  assert.equal(ok(101, [['upgrade', 'websocket']], 'GET', true).ok, true);
  assert.equal(ok(100, [], 'GET', true).ok, false);
  for (const value of ['a\r\nset-cookie: x=1', 'a\nb', 'a\rb', 'a\0b', 'a\x01b', 'a\x7fb', 'caf\u0100']) {
    assert.equal(ok(200, [['x-bad', value]]).ok, false, JSON.stringify(value));
  }
  for (const name of ['bad name', 'bad:name', '', 'x\r\ny', 'caf\u00e9', '(x)']) assert.equal(ok(200, [[name, 'v']]).ok, false, JSON.stringify(name));
});

test('response heads: one Content-Length kept (identical repeats merged), conflicting or malformed ones refused (RFC 9110 §8.6)', () => {
  const check = (headers: HeaderPairs, status = 200, method = 'GET') => checkResponseHead({ type: 'response_head', status, headers }, method, false);
  const single = check([['content-length', '5'], ['Content-Length', '5, 5']]);
  assert.ok(single.ok);
  assert.deepEqual(single.head.headers, [['content-length', '5']]);
  assert.equal(single.head.contentLength, 5);
  assert.equal(check([['content-length', '5'], ['content-length', '6']]).ok, false);
  assert.equal(check([['content-length', '-1']]).ok, false);
  assert.equal(check([['content-length', '0x10']]).ok, false);
  assert.equal(check([['content-length', '']]).ok, false);
  // No body on HEAD, 204 or 304; no Content-Length on 204.
  const headReq = check([['content-length', '10']], 200, 'HEAD');
  assert.ok(headReq.ok);
  assert.equal(headReq.head.bodyAllowed, false);
  assert.deepEqual(headReq.head.headers, [['content-length', '10']]);
  const noContent = check([['content-length', '10']], 204);
  assert.ok(noContent.ok);
  assert.deepEqual(noContent.head.headers, []);
  // The edge sets its own request id.
  const spoof = check([['x-hopgate-request-id', 'forged']]);
  assert.ok(spoof.ok);
  assert.deepEqual(spoof.head.headers, []);
});

async function pumped(chunks: Buffer[], headFraming: { contentLength: number | undefined; bodyAllowed: boolean }): Promise<{ out: Buffer; ended: boolean; outcome: BodyOutcome | undefined }> {
  const source = new PassThrough();
  const sink = new PassThrough();
  const parts: Buffer[] = [];
  let ended = false;
  sink.on('data', (c: Buffer) => parts.push(c));
  sink.on('end', () => (ended = true));
  let outcome: BodyOutcome | undefined;
  pipeResponseBody(source, sink, headFraming, (o) => (outcome = o));
  for (const c of chunks) source.write(c);
  source.end();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  return { out: Buffer.concat(parts), ended, outcome };
}

test('a body longer than its Content-Length is cut at it; a shorter one is reported and the sink left open', async () => {
  const exact = await pumped([Buffer.from('hel'), Buffer.from('lo')], { contentLength: 5, bodyAllowed: true });
  assert.equal(exact.out.toString(), 'hello');
  assert.equal(exact.ended, true);
  assert.deepEqual(exact.outcome, { kind: 'complete' });

  const longer = await pumped([Buffer.from('hel'), Buffer.from('lo\r\n\r\nHTTP/1.1 200 OK\r\n')], { contentLength: 5, bodyAllowed: true });
  assert.equal(longer.out.toString(), 'hello');
  assert.equal(longer.ended, true);
  assert.equal(longer.outcome?.kind, 'overflow');

  const shorter = await pumped([Buffer.from('hel')], { contentLength: 5, bodyAllowed: true });
  assert.equal(shorter.out.toString(), 'hel');
  assert.equal(shorter.ended, false, 'a truncated body must never be ended as if complete');
  assert.deepEqual(shorter.outcome, { kind: 'short', receivedBytes: 3, expectedBytes: 5 });

  const headOnly = await pumped([Buffer.from('not for a HEAD request')], { contentLength: undefined, bodyAllowed: false });
  assert.equal(headOnly.out.length, 0);
  assert.equal(headOnly.ended, true);

  const chunked = await pumped([Buffer.from('any'), Buffer.from(' length')], { contentLength: undefined, bodyAllowed: true });
  assert.equal(chunked.out.toString(), 'any length');
  assert.equal(chunked.ended, true);
});
