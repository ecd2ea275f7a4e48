/**
 * Route fallbacks (docs/redis.md "Fallbacks"): while a route's client has no live session the
 * ingress answers with the route's static page, or relays to another client's service; edits
 * made with plain Redis commands reach the running ingress.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { Stack, waitFor, type ManagedProcess } from '@hopgate/testkit';
import { startOrigin, PublicClient, assertPublicError, type Origin, type Reply } from './helpers.js';
import { opsPortOf } from './ops-helpers.js';
import { scrape, valueOf, type MetricSample } from './metrics-helpers.js';

/** Route with a maintenance page. */
const PAGE_HOST = 'shop.hopgate.test';
/** Route whose fallback is another client's service. */
const ALT_HOST = 'alt.hopgate.test';
const PAGE_HTML = '<!doctype html><h1>Down for maintenance</h1>\n';
/** How long an edit or a session change may take to show at the ingress before we call it lost, in ms. */
const APPLY_DEADLINE_MS = 10_000;

let stack: Stack;
let shopOrigin: Origin;
let spareOrigin: Origin;
let pub: PublicClient;
let redis: Redis;
let shopToken: string;
let spareToken: string;
let spareAgent: ManagedProcess | undefined;
let dir: string;
const keys = new RedisKeys();

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-fallback-'));
  stack = await Stack.start({ dir, hubs: 2 });
  shopOrigin = await startOrigin('shop');
  spareOrigin = await startOrigin('spare');
  shopToken = await stack.addClient('shop');
  spareToken = await stack.addClient('spare');
  await stack.setRoute(PAGE_HOST, '/', 'shop/web');
  await stack.setRoute(ALT_HOST, '/', 'shop/web');
  pub = new PublicClient(stack);
  redis = new Redis(stack.redis.url);
});

after(async () => {
  redis?.disconnect();
  await pub?.close();
  await stack?.stop();
  await shopOrigin?.close();
  await spareOrigin?.close();
});

function isPage(r: Reply, html = PAGE_HTML): boolean {
  return r.status === 503 && r.body.toString() === html;
}

async function cli(args: string[]): Promise<string> {
  const r = await stack.cli(args);
  assert.equal(r.code, 0, `hopgate ${args.join(' ')}: ${r.stderr}`);
  return r.stderr;
}

function startShop(): Promise<ManagedProcess> {
  return stack.startAgent({ clientId: 'shop', token: shopToken, services: { web: shopOrigin.address } });
}

function startSpare(): Promise<ManagedProcess> {
  return stack.startAgent({ clientId: 'spare', token: spareToken, services: { web: spareOrigin.address }, hub: 1 });
}

/** The ingress's metrics now. */
async function ingressMetrics(): Promise<MetricSample[]> {
  return (await scrape(await opsPortOf(stack.ingress))).samples;
}

/** Waits until `name{labels}` moved by `by` since `before` (counted at the response's end), then checks it moved by exactly that. */
async function metricsMoved(before: MetricSample[], name: string, labels: Record<string, string>, by: number): Promise<void> {
  const moved = await waitFor(`${name} to move`, async () => {
    const change = valueOf(await ingressMetrics(), name, labels) - valueOf(before, name, labels);
    return change >= by ? change : undefined;
  }, APPLY_DEADLINE_MS, 50);
  assert.equal(moved, by, `${name} ${JSON.stringify(labels)}`);
}

test('agent never started: the maintenance page (503, Retry-After, no-store, request id), HEAD bodyless, logged with its fallback', async () => {
  const without = await pub.request(PAGE_HOST, '/hello');
  assert.equal(without.status, 502, 'no fallback yet: the usual answer');
  assertPublicError(without.body.toString(), 'ERR_CLIENT_OFFLINE', without.headers['x-hopgate-request-id'] as string);

  const html = path.join(dir, 'maintenance.html');
  fs.writeFileSync(html, PAGE_HTML);
  await cli(['route', 'fallback', 'page', PAGE_HOST, '/', 'maintenance', '--body-file', html, '--retry-after', '120']);
  const page = await waitFor('the page is served', async () => {
    const r = await pub.request(PAGE_HOST, '/hello?x=1');
    return isPage(r) ? r : undefined;
  }, APPLY_DEADLINE_MS, 50);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(page.headers['content-length'], String(Buffer.byteLength(PAGE_HTML)));
  assert.equal(page.headers['cache-control'], 'no-store');
  assert.equal(page.headers['retry-after'], '120');
  const requestId = page.headers['x-hopgate-request-id'];
  assert.equal(typeof requestId, 'string');
  const line = await stack.ingress.waitForLog('fallback log line', (r) => r['request_id'] === requestId && r['fallback'] === 'page:maintenance');
  assert.equal(line['status'], 503);
  assert.equal(line['code'], 'ERR_CLIENT_OFFLINE');
  assert.equal(line['route'], `${PAGE_HOST}/`);

  const metricsBefore = await ingressMetrics();
  const head = await pub.request(PAGE_HOST, '/hello', { method: 'HEAD' });
  assert.equal(head.status, 503);
  // /metrics: one more page served by the fallback, a 5xx of the route's own client.
  await metricsMoved(metricsBefore, 'hopgate_ingress_fallbacks_total', { route: `${PAGE_HOST}/`, kind: 'page' }, 1);
  await metricsMoved(metricsBefore, 'hopgate_ingress_requests_total', { status_class: '5xx', route: `${PAGE_HOST}/`, client: 'shop' }, 1);
  assert.equal(head.body.length, 0);
  assert.equal(head.headers['content-length'], String(Buffer.byteLength(PAGE_HTML)));

  // An upload to an offline route gets the page too; the connection stays usable.
  const post = await pub.request(PAGE_HOST, '/sha256', { method: 'POST', body: crypto.randomBytes(50_000) });
  assert.ok(isPage(post));
  assert.ok(isPage(await pub.request(PAGE_HOST, '/after-upload')));
  assert.equal(shopOrigin.seen.length, 0, 'nothing reached the offline client');
});

test('a <client>/<service> fallback is served by another agent, uploads included; when it is offline too, the normal 502', async () => {
  spareAgent = await startSpare();
  await cli(['route', 'fallback', 'set', ALT_HOST, '/', 'spare/web']);
  const served = await waitFor('served by the fallback client', async () => {
    const r = await pub.request(ALT_HOST, '/hello');
    return r.status === 200 ? r : undefined;
  }, APPLY_DEADLINE_MS, 50);
  assert.equal(served.body.toString(), 'hello from spare\n');
  const requestId = served.headers['x-hopgate-request-id'];
  const line = await stack.ingress.waitForLog('served line', (r) => r['request_id'] === requestId && r['msg'] === 'request served');
  assert.equal(line['fallback'], 'spare/web');
  assert.equal(line['client_id'], 'spare');
  assert.equal(line['route'], `${ALT_HOST}/`);

  const body = crypto.randomBytes(200_000);
  const metricsBefore = await ingressMetrics();
  const upload = await pub.request(ALT_HOST, '/sha256', { method: 'POST', body });
  assert.equal(upload.status, 200);
  // /metrics: relayed to the fallback client, counted under it, its upload's bytes too.
  await metricsMoved(metricsBefore, 'hopgate_ingress_fallbacks_total', { route: `${ALT_HOST}/`, kind: 'client' }, 1);
  await metricsMoved(metricsBefore, 'hopgate_ingress_requests_total', { status_class: '2xx', route: `${ALT_HOST}/`, client: 'spare' }, 1);
  await metricsMoved(metricsBefore, 'hopgate_ingress_request_bytes_total', { route: `${ALT_HOST}/`, client: 'spare' }, body.length);
  assert.equal(JSON.parse(upload.body.toString()).sha256, crypto.createHash('sha256').update(body).digest('hex'), 'the whole body reached the fallback');
  assert.ok(spareOrigin.seen.some((r) => r.url === '/sha256' && r.headers['host'] === ALT_HOST), 'the origin sees the public host');

  await spareAgent.stop();
  spareAgent = undefined;
  const offline = await waitFor('502 once the fallback is offline too', async () => {
    const r = await pub.request(ALT_HOST, '/hello');
    return r.status === 502 ? r : undefined;
  }, APPLY_DEADLINE_MS, 100);
  const id = assertPublicError(offline.body.toString(), 'ERR_CLIENT_OFFLINE', offline.headers['x-hopgate-request-id'] as string);
  const failed = await stack.ingress.waitForLog('failed line', (r) => r['request_id'] === id && r['msg'] === 'request failed');
  assert.equal(failed['fallback'], 'spare/web', 'the failure names the fallback that was tried');
  assert.equal(failed['client_id'], 'spare');
});

test('the normal route once the client is back; the page again once its agent stops', async () => {
  const shop = await startShop();
  await waitFor('served by the route again', async () => (await pub.request(PAGE_HOST, '/hello')).body.toString() === 'hello from shop\n', APPLY_DEADLINE_MS, 50);
  assert.equal((await pub.request(ALT_HOST, '/hello')).body.toString(), 'hello from shop\n');
  await shop.stop();
  await waitFor('the page while the agent is stopped', async () => isPage(await pub.request(PAGE_HOST, '/hello')), APPLY_DEADLINE_MS, 50);
  // Killed rather than stopped: the page as soon as the hub has noticed.
  const again = await startShop();
  await waitFor('served by the route again', async () => (await pub.request(PAGE_HOST, '/hello')).status === 200, APPLY_DEADLINE_MS, 50);
  await again.kill();
  await waitFor('the page after the agent was killed', async () => isPage(await pub.request(PAGE_HOST, '/hello')), APPLY_DEADLINE_MS * 2, 100);
});

test('live edits with plain Redis commands reach the ingress; malformed entries are skipped with a log line', async () => {
  // Edit the page's body (what `redis-cli HSET hopgate:page:maintenance body ...` does).
  const started = Date.now();
  await redis.hset(keys.page('maintenance'), 'body', '<h1>Back at noon</h1>');
  await waitFor('edited body served', async () => isPage(await pub.request(PAGE_HOST, '/'), '<h1>Back at noon</h1>'), APPLY_DEADLINE_MS, 10);
  process.stdout.write(`# page edit served after ${Date.now() - started} ms\n`);

  // Malformed entries next to the good one: logged and skipped, the good one keeps working.
  const logged = stack.ingress.records.length;
  await redis.hset(keys.fallback(PAGE_HOST), 'no-slash', 'page:maintenance', '/x', 'nonsense');
  await redis.hset(keys.fallback('bad_host'), '/', 'spare/web');
  await redis.hset(keys.page('broken'), 'status', '404', 'content_type', 'text/html', 'body', 'x');
  await redis.hset(keys.route(PAGE_HOST), '/broken', 'shop/web');
  await redis.hset(keys.fallback(PAGE_HOST), '/broken', 'page:broken');
  const skipped = (field: string | undefined, key: string): Promise<unknown> =>
    stack.ingress.waitForLog(`skipped ${key} ${field}`, (r) => r['msg'] === 'invalid fallback entry skipped' && r['redis_key'] === key && r['field'] === field, APPLY_DEADLINE_MS, logged);
  await skipped('no-slash', keys.fallback(PAGE_HOST));
  await skipped('/x', keys.fallback(PAGE_HOST));
  await skipped(undefined, keys.fallback('bad_host'));
  const broken = (await skipped('/broken', keys.fallback(PAGE_HOST))) as Record<string, unknown>;
  assert.match(String(broken['reason']), /page "broken" is not usable: status 404 must be 2xx or 5xx/);
  assert.ok(isPage(await pub.request(PAGE_HOST, '/'), '<h1>Back at noon</h1>'), 'the valid fallback still works');
  const brokenReply = await pub.request(PAGE_HOST, '/broken');
  assert.equal(brokenReply.status, 502, 'a route whose fallback is invalid gets the usual answer');
  assert.deepEqual(stack.crashSigns().filter((s) => s.startsWith('https-ingress')), [], 'the ingress neither crashed nor logged fatal');

  // Switch the page route to another client's service, then remove the fallback.
  spareAgent = await startSpare();
  await redis.hset(keys.fallback(PAGE_HOST), '/', 'spare/web');
  await waitFor('switched to the fallback client', async () => (await pub.request(PAGE_HOST, '/hello')).body.toString() === 'hello from spare\n', APPLY_DEADLINE_MS, 10);
  await redis.hdel(keys.fallback(PAGE_HOST), '/');
  await waitFor('no fallback: the usual 502', async () => (await pub.request(PAGE_HOST, '/hello')).status === 502, APPLY_DEADLINE_MS, 10);
  const ls = await stack.cli(['route', 'ls', PAGE_HOST]);
  assert.match(ls.stdout, /shop\.hopgate\.test\s+\/broken\s+shop\/web\s+-/);
  assert.match(ls.stderr, /page "broken" is not usable/);
});

test('the hub of the route\'s client dies: a request relayed to it (the owner still cached) is sent on to the fallback client', async () => {
  // spare (on hub 2) still runs from the test before; shop connects to hub 1.
  assert.ok(spareAgent, 'the fallback client runs');
  await startShop();
  await waitFor('served by the route', async () => (await pub.request(ALT_HOST, '/hello')).body.toString() === 'hello from shop\n', APPLY_DEADLINE_MS, 50);
  await stack.hubs[0]!.process.kill();
  // The session record of the dead hub lives on until its TTL: the ingress relays to hub 1, which is gone.
  const reply = await pub.request(ALT_HOST, '/hello');
  assert.equal(reply.status, 200, reply.body.toString());
  assert.equal(reply.body.toString(), 'hello from spare\n');
  const requestId = reply.headers['x-hopgate-request-id'];
  const handover = await stack.ingress.waitForLog('handed to the fallback', (r) => r['request_id'] === requestId && r['msg'] === 'client offline: relaying to the fallback');
  assert.match(String(handover['reason']), /hub/, 'the failure came from the relay (the hub), not from a missing session');
  const served = await stack.ingress.waitForLog('served line', (r) => r['request_id'] === requestId && r['msg'] === 'request served');
  assert.equal(served['fallback'], 'spare/web');
  assert.equal(stack.ingress.countLogs((r) => r['request_id'] === requestId && r['msg'] === 'request failed'), 0, 'one answer only');
  // An upload that may have reached the lost hub is not sent again: while the record lives, the usual 502 is possible;
  // once the record is gone, the fallback takes uploads too.
  await waitFor('uploads reach the fallback once the dead hub\'s record expired', async () => {
    const r = await pub.request(ALT_HOST, '/sha256', { method: 'POST', body: Buffer.from('abc') });
    return r.status === 200 && JSON.parse(r.body.toString()).length === 3;
  }, APPLY_DEADLINE_MS, 100);
});
