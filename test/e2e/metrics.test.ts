/**
 * GET /metrics of every service as real processes (ingress, hub, cert-manager, agent with
 * ops_listen): traffic moves the ingress and agent counters by exactly the number of requests
 * sent, per status class, route and client; the duration histogram's buckets add up to its
 * count; bytes relayed are the body bytes sent; the hub's session gauges follow the agents.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { Stack, waitFor, type ManagedProcess } from '@hopgate/testkit';
import { PublicClient } from './helpers.js';
import { opsPortOf } from './ops-helpers.js';
import { scrape, samplesOf, valueOf, type MetricSample } from './metrics-helpers.js';

const HOST = 'metrics.hopgate.test';
const ROUTE = `${HOST}/`;
const OFFLINE_HOST = 'offline.hopgate.test';
const OFFLINE_ROUTE = `${OFFLINE_HOST}/`;
/** Longest wait for a counter or gauge to reach its value after the traffic that moves it, in ms. */
const METRIC_WAIT_MS = 10_000;

let stack: Stack;
let certManager: ManagedProcess;
let agent: ManagedProcess;
let origin: http.Server;
let pub: PublicClient;
const ops: Record<'ingress' | 'hub' | 'certManager' | 'agent', number> = { ingress: 0, hub: 0, certManager: 0, agent: 0 };

/** A local service answering `/status/<code>` with that status and `/bytes/<n>` with n bytes; anything else 200. */
async function startStatusOrigin(): Promise<{ server: http.Server; address: string }> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    req.resume();
    req.once('end', () => {
      if (url.startsWith('/status/')) {
        const status = Number(url.slice('/status/'.length));
        res.writeHead(status, { 'content-type': 'text/plain', ...(status >= 300 && status < 400 ? { location: '/elsewhere' } : {}) });
        res.end(`status ${status}\n`);
      } else if (url.startsWith('/bytes/')) {
        const n = Number(url.slice('/bytes/'.length));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
        res.end(Buffer.alloc(n, 0x61));
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
      }
    });
  });
  // WebSocket echo on the same port (upgrades).
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-metrics-'));
  stack = await Stack.start({ dir, hubs: 1, ingressNames: ['*.hopgate.test'] });
  const started = await startStatusOrigin();
  origin = started.server;
  const token = await stack.addClient('metered');
  await stack.addClient('ghost'); // routed, never online: 502
  await stack.setRoute(HOST, '/', 'metered/web');
  await stack.setRoute(OFFLINE_HOST, '/', 'ghost/web');
  agent = await stack.startAgent({ clientId: 'metered', token, services: { web: started.address }, extra: { ops_listen: '127.0.0.1:0' } });
  // No ACME server: orders fail at once, which is an outcome like any other.
  certManager = await stack.startCertManager({ HOPGATE_ACME_DIRECTORY: 'https://127.0.0.1:9/dir' });
  ops.ingress = await opsPortOf(stack.ingress);
  ops.hub = await opsPortOf(stack.hubs[0]!.process);
  ops.certManager = await opsPortOf(certManager);
  ops.agent = await opsPortOf(agent);
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await stack?.stop();
  await new Promise<void>((resolve) => (origin ? origin.close(() => resolve()) : resolve()));
});

/** Per-label-set increase of `name` between two scrapes. */
function delta(before: readonly MetricSample[], after: readonly MetricSample[], name: string, labels: Record<string, string>): number {
  return valueOf(after, name, labels) - valueOf(before, name, labels);
}

test('every service answers GET /metrics: Prometheus text, default process metrics, Redis and NATS connected', async () => {
  for (const [name, port] of Object.entries(ops)) {
    const answer = await scrape(port);
    assert.equal(answer.status, 200, name);
    assert.match(answer.contentType, /^text\/plain; version=0\.0\.4/, name);
    assert.ok(samplesOf(answer.samples, 'process_cpu_user_seconds_total').length === 1, `${name}: default process metrics`);
    assert.ok(samplesOf(answer.samples, 'nodejs_eventloop_lag_seconds').length === 1, `${name}: event loop lag`);
    if (name !== 'agent') {
      assert.equal(valueOf(answer.samples, 'hopgate_redis_connected'), 1, `${name}: redis`);
      assert.equal(valueOf(answer.samples, 'hopgate_nats_connected'), 1, `${name}: nats`);
    }
  }
  const ingress = await scrape(ops.ingress);
  assert.equal(valueOf(ingress.samples, 'hopgate_ingress_routes'), 2);
  const cm = await scrape(ops.certManager);
  for (const outcome of ['issued', 'not_needed', 'not_wanted', 'failed', 'handed_back']) {
    assert.equal(samplesOf(cm.samples, 'hopgate_certmanager_orders_total', { outcome }).length, 1, `orders outcome ${outcome}`);
  }
  const agentScrape = await scrape(ops.agent);
  assert.equal(valueOf(agentScrape.samples, 'hopgate_agent_session_online'), 1);
});

test('traffic moves the request counters by exactly the requests sent, per status class, route and client; histogram buckets add up to its count', async () => {
  const ingressBefore = (await scrape(ops.ingress)).samples;
  const agentBefore = (await scrape(ops.agent)).samples;
  const sent = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  let responseBytes = 0;
  const get = async (host: string, url: string, expected: number, options: { method?: string; body?: Buffer } = {}): Promise<void> => {
    const res = await pub.request(host, url, options);
    assert.equal(res.status, expected, `${host}${url}`);
    if (host === HOST) responseBytes += res.body.length;
  };
  for (let i = 0; i < 7; i += 1) await get(HOST, '/status/200', 200);
  for (let i = 0; i < 2; i += 1) await get(HOST, '/bytes/20000', 200);
  await get(HOST, '/upload', 200, { method: 'POST', body: Buffer.alloc(3_000, 0x62) });
  sent['2xx'] = 10;
  for (let i = 0; i < 3; i += 1) await get(HOST, '/status/302', 302);
  sent['3xx'] = 3;
  for (let i = 0; i < 4; i += 1) await get(HOST, '/status/404', 404);
  sent['4xx'] = 4;
  for (let i = 0; i < 2; i += 1) await get(HOST, '/status/503', 503);
  sent['5xx'] = 2;
  for (let i = 0; i < 5; i += 1) await get('nowhere.hopgate.test', '/x', 404); // no route
  for (let i = 0; i < 3; i += 1) await get(OFFLINE_HOST, '/x', 502); // client offline
  const onRoute = sent['2xx'] + sent['3xx'] + sent['4xx'] + sent['5xx'];

  // Counted when each response is over (its 'close'): wait for the last, then compare exactly.
  const after = await waitFor('ingress counters to settle', async () => {
    const samples = (await scrape(ops.ingress)).samples;
    const counted = samplesOf(samples, 'hopgate_ingress_request_duration_seconds_count').reduce((sum, s) => sum + s.value, 0)
      - samplesOf(ingressBefore, 'hopgate_ingress_request_duration_seconds_count').reduce((sum, s) => sum + s.value, 0);
    return counted >= onRoute + 8 ? samples : undefined;
  }, METRIC_WAIT_MS, 50);
  const requests = 'hopgate_ingress_requests_total';
  for (const [statusClass, count] of Object.entries(sent)) {
    assert.equal(delta(ingressBefore, after, requests, { status_class: statusClass, route: ROUTE, client: 'metered' }), count, `${statusClass} on ${ROUTE}`);
  }
  assert.equal(delta(ingressBefore, after, requests, { status_class: '4xx', route: '', client: '' }), 5, 'no route: 404 with empty route and client');
  assert.equal(delta(ingressBefore, after, requests, { status_class: '5xx', route: OFFLINE_ROUTE, client: 'ghost' }), 3, 'client offline: 502');
  const total = samplesOf(after, requests).reduce((sum, s) => sum + s.value, 0) - samplesOf(ingressBefore, requests).reduce((sum, s) => sum + s.value, 0);
  assert.equal(total, onRoute + 8, 'no other request counted');

  // The histogram: cumulative buckets, +Inf = count, and the per-bucket increases add up to the requests of the route.
  for (const [route, count] of [[ROUTE, onRoute], [OFFLINE_ROUTE, 3], ['', 5]] as const) {
    const histogram = 'hopgate_ingress_request_duration_seconds';
    assert.equal(delta(ingressBefore, after, `${histogram}_count`, { route }), count, `count of ${route || '(no route)'}`);
    const buckets = samplesOf(after, `${histogram}_bucket`, { route })
      .map((s) => ({ le: s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']), value: s.value - valueOf(ingressBefore, `${histogram}_bucket`, { route, le: s.labels['le']! }) }))
      .sort((a, b) => a.le - b.le);
    assert.ok(buckets.length >= 10, `buckets of ${route}`);
    let previous = 0;
    let spread = 0;
    for (const bucket of buckets) {
      assert.ok(bucket.value >= previous, `buckets of ${route} are cumulative`);
      spread += bucket.value - previous;
      previous = bucket.value;
    }
    assert.equal(buckets.at(-1)!.le, Infinity);
    assert.equal(buckets.at(-1)!.value, count, `+Inf bucket of ${route}`);
    assert.equal(spread, count, `bucket increases of ${route} add up to its count`);
    assert.ok(delta(ingressBefore, after, `${histogram}_sum`, { route }) > 0, `sum of ${route}`);
  }

  // Bytes relayed: the one upload's body, and every response body of the route.
  assert.equal(delta(ingressBefore, after, 'hopgate_ingress_request_bytes_total', { route: ROUTE, client: 'metered' }), 3_000);
  assert.equal(delta(ingressBefore, after, 'hopgate_ingress_response_bytes_total', { route: ROUTE, client: 'metered' }), responseBytes);
  assert.ok(responseBytes >= 40_000);

  // The agent counted the same requests by its service (the offline and unrouted ones never reached it).
  const agentAfter = await waitFor('agent counters', async () => {
    const samples = (await scrape(ops.agent)).samples;
    return samplesOf(samples, 'hopgate_agent_requests_total').reduce((sum, s) => sum + s.value, 0) >= onRoute ? samples : undefined;
  }, METRIC_WAIT_MS, 50);
  for (const [statusClass, count] of Object.entries(sent)) {
    assert.equal(delta(agentBefore, agentAfter, 'hopgate_agent_requests_total', { status_class: statusClass, service: 'web' }), count, `agent ${statusClass}`);
  }
  assert.equal(samplesOf(agentAfter, 'hopgate_agent_origin_errors_total').length, 0, 'no origin error');
});

test('HTTP/2 requests are counted like HTTP/1.1 ones', async () => {
  const before = (await scrape(ops.ingress)).samples;
  const session = http2.connect(`https://127.0.0.1:${stack.httpsPort}`, { servername: HOST, ca: fs.readFileSync(stack.ca.certFile) });
  try {
    for (const status of [200, 200, 404]) {
      const answered = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':path': `/status/${status}`, ':authority': HOST });
        let got = 0;
        req.on('response', (headers) => (got = Number(headers[':status'])));
        req.on('end', () => resolve(got));
        req.on('error', reject);
        req.resume();
        req.end();
      });
      assert.equal(answered, status);
    }
  } finally {
    session.close();
  }
  const requests = 'hopgate_ingress_requests_total';
  const after = await waitFor('h2 requests counted', async () => {
    const samples = (await scrape(ops.ingress)).samples;
    return delta(before, samples, requests, { status_class: '4xx', route: ROUTE, client: 'metered' }) >= 1 && delta(before, samples, requests, { status_class: '2xx', route: ROUTE, client: 'metered' }) >= 2 ? samples : undefined;
  }, METRIC_WAIT_MS, 50);
  assert.equal(delta(before, after, requests, { status_class: '2xx', route: ROUTE, client: 'metered' }), 2);
  assert.equal(delta(before, after, requests, { status_class: '4xx', route: ROUTE, client: 'metered' }), 1);
});

/** Opens a WebSocket through the ingress to `host`; resolves with the status of the answer (101 when switched). */
function webSocketStatus(host: string): Promise<number> {
  const options: ClientOptions & tls.ConnectionOptions = { headers: { host }, servername: host, ca: fs.readFileSync(stack.ca.certFile) };
  const ws = new WebSocket(`wss://127.0.0.1:${stack.httpsPort}/echo`, options);
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.send('ping');
      ws.once('message', () => {
        ws.close();
        resolve(101);
      });
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', reject);
  });
}

test('WebSocket upgrades: counted apart by status class, route and client, not as requests', async () => {
  const before = (await scrape(ops.ingress)).samples;
  assert.equal(await webSocketStatus(HOST), 101);
  assert.equal(await webSocketStatus(HOST), 101);
  assert.equal(await webSocketStatus('nowhere.hopgate.test'), 404);
  const upgrades = 'hopgate_ingress_upgrades_total';
  const after = await waitFor('upgrades counted', async () => {
    const samples = (await scrape(ops.ingress)).samples;
    return samplesOf(samples, upgrades).reduce((sum, s) => sum + s.value, 0) - samplesOf(before, upgrades).reduce((sum, s) => sum + s.value, 0) >= 3 ? samples : undefined;
  }, METRIC_WAIT_MS, 50);
  assert.equal(delta(before, after, upgrades, { status_class: '1xx', route: ROUTE, client: 'metered' }), 2);
  assert.equal(delta(before, after, upgrades, { status_class: '4xx', route: '', client: '' }), 1);
  const requests = 'hopgate_ingress_requests_total';
  assert.equal(samplesOf(after, requests).reduce((sum, s) => sum + s.value, 0), samplesOf(before, requests).reduce((sum, s) => sum + s.value, 0), 'no request counted');
});

test('hub: the sessions gauge is the number of agents online, instances by client; transport figures of live sessions; agent origin errors', async () => {
  const sessionsNow = async (): Promise<MetricSample[]> => (await scrape(ops.hub)).samples;
  let samples = await sessionsNow();
  assert.equal(valueOf(samples, 'hopgate_hub_agent_sessions'), 1);
  assert.equal(valueOf(samples, 'hopgate_hub_agent_instances', { client: 'metered' }), 1);
  const rtt = valueOf(samples, 'hopgate_hub_transport_rtt_seconds', { stat: 'max' });
  assert.ok(rtt > 0 && rtt < 1, `smoothed RTT on loopback: ${rtt} s`);
  assert.ok(valueOf(samples, 'hopgate_hub_transport_congestion_window_bytes', { stat: 'min' }) > 0);
  const sentBefore = valueOf(samples, 'hopgate_hub_transport_packets_sent_total');
  assert.ok(sentBefore > 0);

  const token = await stack.addClient('second');
  // Its service points at a closed port: every request is an origin error.
  await stack.setRoute('second.hopgate.test', '/', 'second/web');
  const second = await stack.startAgent({ clientId: 'second', token, services: { web: '127.0.0.1:9' }, extra: { ops_listen: '127.0.0.1:0' } });
  samples = await waitFor('two sessions', async () => {
    const now = await sessionsNow();
    return valueOf(now, 'hopgate_hub_agent_sessions') === 2 ? now : undefined;
  }, METRIC_WAIT_MS, 50);
  assert.equal(valueOf(samples, 'hopgate_hub_agent_instances', { client: 'second' }), 1);
  assert.equal(valueOf(samples, 'hopgate_hub_agent_instances', { client: 'metered' }), 1);
  for (let i = 0; i < 2; i += 1) assert.equal((await pub.request('second.hopgate.test', '/x')).status, 502);
  const secondOps = await opsPortOf(second);
  const errors = await waitFor('origin errors counted', async () => {
    const now = (await scrape(secondOps)).samples;
    return valueOf(now, 'hopgate_agent_origin_errors_total', { service: 'web', code: 'ERR_ORIGIN_UNREACHABLE' }) >= 2 ? now : undefined;
  }, METRIC_WAIT_MS, 50);
  assert.equal(valueOf(errors, 'hopgate_agent_origin_errors_total', { service: 'web', code: 'ERR_ORIGIN_UNREACHABLE' }), 2);
  assert.equal(samplesOf(errors, 'hopgate_agent_requests_total').length, 0, 'no request served');

  await second.stop(5_000);
  samples = await waitFor('one session again', async () => {
    const now = await sessionsNow();
    return valueOf(now, 'hopgate_hub_agent_sessions') === 1 ? now : undefined;
  }, METRIC_WAIT_MS, 50);
  assert.equal(samplesOf(samples, 'hopgate_hub_agent_instances', { client: 'second' }).length, 0, 'a client gone is no series');
  // The closed session's packets stay in the totals.
  assert.ok(valueOf(samples, 'hopgate_hub_transport_packets_sent_total') >= sentBefore, 'packet totals never go back');
});

test('cert-manager: a failed order is counted by its outcome', async () => {
  // The ACME directory does not answer: the orders for the routed names fail.
  const samples = await waitFor('a failed order', async () => {
    const now = (await scrape(ops.certManager)).samples;
    return valueOf(now, 'hopgate_certmanager_orders_total', { outcome: 'failed' }) >= 1 ? now : undefined;
  }, 30_000, 200);
  assert.equal(valueOf(samples, 'hopgate_certmanager_orders_total', { outcome: 'issued' }), 0);
});
