import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, HopError } from '@hopgate/errors';
import { FallbackTable, RouteTable, type RawPageRead, type RouteTarget } from '@hopgate/routes';
import { captureLogger } from '@hopgate/testkit';
import { serveFallback, type FallbackOutcome } from '../src/index.js';

const routes = RouteTable.build([
  { host: 'page.example.com', field: '/', value: 'shop/web' },
  { host: 'alt.example.com', field: '/', value: 'shop/web' },
  { host: 'none.example.com', field: '/', value: 'shop/web' },
]).table;
const pages = new Map<string, RawPageRead>([['m', { ok: true, raw: { status: '503', contentType: 'text/html', body: Buffer.from('<p>soon</p>'), retryAfter: '30' } }]]);
const fallbacks = FallbackTable.build(
  routes,
  [
    { host: 'page.example.com', field: '/', value: 'page:m' },
    { host: 'alt.example.com', field: '/', value: 'spare/web' },
  ],
  pages,
).table;

interface Case {
  failure: unknown;
  relayed: boolean;
  hasBody: boolean;
  headersSent?: boolean;
}

/** A real HTTP server whose handler hands each request to serveFallback as the proxy path would. */
async function run(host: string, method: string, c: Case): Promise<{ outcome: FallbackOutcome; relayedTo: RouteTarget[]; status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const { logger } = captureLogger();
  let outcome: FallbackOutcome = 'none';
  const relayedTo: RouteTarget[] = [];
  const server = http.createServer((req, res) => {
    if (c.headersSent) res.writeHead(200).flushHeaders();
    outcome = serveFallback(c.failure, {
      req,
      res,
      requestId: 'ing-1-test-1',
      route: routes.match(host, '/')!,
      fallbacks,
      log: logger,
      relayed: c.relayed,
      hasBody: c.hasBody,
      closeConnection: false,
      relayTo: (to) => relayedTo.push(to),
    });
    if (!res.writableEnded) res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (server.address() as AddressInfo).port;
    return await new Promise((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', method, path: '/', headers: { host } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ outcome, relayedTo, status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

const offline = new HopError(ErrorCode.ClientOffline, 'client "shop" is offline');

test('a page answers an offline client: status, type, length, no-store, Retry-After, request id; HEAD bodyless', async () => {
  const get = await run('page.example.com', 'GET', { failure: offline, relayed: false, hasBody: false });
  assert.equal(get.outcome, 'page');
  assert.equal(get.status, 503);
  assert.equal(get.body, '<p>soon</p>');
  assert.equal(get.headers['content-type'], 'text/html');
  assert.equal(get.headers['content-length'], '11');
  assert.equal(get.headers['cache-control'], 'no-store');
  assert.equal(get.headers['retry-after'], '30');
  assert.equal(get.headers['x-hopgate-request-id'], 'ing-1-test-1');
  const head = await run('page.example.com', 'HEAD', { failure: offline, relayed: false, hasBody: false });
  assert.equal(head.outcome, 'page');
  assert.equal(head.body, '');
  assert.equal(head.headers['content-length'], '11');
  // A page is safe even when the request may have reached the lost agent.
  assert.equal((await run('page.example.com', 'POST', { failure: offline, relayed: true, hasBody: true })).outcome, 'page');
});

test('another client: relayed unless the request may have run already and cannot safely run again', async () => {
  const fresh = await run('alt.example.com', 'POST', { failure: offline, relayed: false, hasBody: true });
  assert.equal(fresh.outcome, 'relayed');
  assert.deepEqual(fresh.relayedTo, [{ clientId: 'spare', service: 'web' }]);
  assert.equal((await run('alt.example.com', 'GET', { failure: offline, relayed: true, hasBody: false })).outcome, 'relayed', 'idempotent, no body: safe to send again');
  for (const [method, hasBody] of [['POST', false], ['PUT', true], ['PATCH', false]] as const) {
    const r = await run('alt.example.com', method, { failure: offline, relayed: true, hasBody });
    assert.equal(r.outcome, 'none', `${method} body=${hasBody}`);
    assert.deepEqual(r.relayedTo, []);
  }
});

test('no fallback for failures it does not cover, for routes without one, or once the head left', async () => {
  for (const code of [ErrorCode.Timeout, ErrorCode.Busy, ErrorCode.OriginUnreachable, ErrorCode.Unavailable, ErrorCode.Protocol]) {
    assert.equal((await run('page.example.com', 'GET', { failure: new HopError(code, 'x'), relayed: false, hasBody: false })).outcome, 'none', code);
  }
  assert.equal((await run('none.example.com', 'GET', { failure: offline, relayed: false, hasBody: false })).outcome, 'none');
  const late = await run('page.example.com', 'GET', { failure: offline, relayed: true, hasBody: false, headersSent: true });
  assert.equal(late.outcome, 'none');
  assert.equal(late.status, 200);
});
