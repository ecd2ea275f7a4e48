/**
 * A rolling restart of every ingress behind a round-robin TCP balancer under continuous
 * HTTP/1.1 keep-alive and HTTP/2 load fails zero requests (SIGTERM: listeners closed,
 * `Connection: close`, GOAWAY, requests in flight finish); a kill -9'd ingress loses only the
 * requests in flight on it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import { Stack, TcpBalancer, tcpOpen, waitFor, type ManagedProcess } from '@hopgate/testkit';
import { DrainLoad, type LoadCounts } from './drain-load.js';
import { exitCodeOf } from './ops-helpers.js';

const HOST = 'drain.hopgate.test';
const PATH = '/work';
const BODY = 'done\n';
/** The origin answers after this long, in ms: requests are in flight when a signal comes. */
const ORIGIN_DELAY_MS = 25;
/** `/slow` answers after this long, in ms: a request surely in flight when SIGTERM comes. */
const SLOW_DELAY_MS = 1_500;
/** Each ingress's drain deadline, in ms; a drain here takes well under it. */
const DRAIN_TIMEOUT_MS = 15_000;
/** Requests answered between two steps of the restart, so that load runs through each. */
const OK_BETWEEN_STEPS = 150;
/** Time for a kill -9 to reach the clients through the balancer, in ms: requests started before it were in flight. */
const KILL_NOTICE_MS = 200;
const H1_CLIENTS = 4;
const H2_SESSIONS = 2;
const H2_STREAMS_PER_SESSION = 2;

let stack: Stack;
let origin: http.Server;
/** `/slow` requests the origin has received. */
let slowAtOrigin = 0;
/** `/hang` requests the origin has received (it never answers them). */
let hangAtOrigin = 0;
let balancer: TcpBalancer;
let ca: string;
/** The ingress processes behind the balancer and their HTTPS ports. */
let backends: Array<{ name: string; port: number; process: ManagedProcess }>;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-ingress-drain-'));
  stack = await Stack.start({
    dir,
    hubs: 1,
    ingressEnv: { HOPGATE_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS) },
    // The per-request access log at info costs CPU that two shared cores do not have.
    ingressLogLevel: 'info',
  });
  origin = http.createServer((req, res) => {
    if (req.url === '/hang') {
      hangAtOrigin += 1;
      return; // never answered
    }
    if (req.url === '/slow') slowAtOrigin += 1;
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(BODY);
    }, req.url === '/slow' ? SLOW_DELAY_MS : ORIGIN_DELAY_MS);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', () => resolve()));
  const token = await stack.addClient('drainer');
  await stack.setRoute(HOST, '/', 'drainer/web');
  await stack.startAgent({ clientId: 'drainer', token, services: { web: `127.0.0.1:${(origin.address() as AddressInfo).port}` } });
  const second = await stack.startIngressReplica('ingress-2');
  const third = await stack.startIngressReplica('ingress-3');
  backends = [
    { name: 'ingress-1', port: stack.httpsPort, process: stack.ingress },
    { name: second.id, port: second.httpsPort, process: second.process },
    { name: third.id, port: third.httpsPort, process: third.process },
  ];
  balancer = new TcpBalancer(backends.map((b) => b.port));
  await balancer.listen();
  ca = fs.readFileSync(stack.ca.certFile, 'utf8');
});

after(async () => {
  await balancer?.close();
  await stack?.stop();
  origin?.close();
});

function newLoad(): DrainLoad {
  return new DrainLoad({
    port: balancer.port,
    host: HOST,
    path: PATH,
    expectBody: BODY,
    ca,
    h1Clients: H1_CLIENTS,
    h2Sessions: H2_SESSIONS,
    h2StreamsPerSession: H2_STREAMS_PER_SESSION,
  });
}

function summary(counts: LoadCounts): string {
  return `h1 ok ${counts.h1Ok}, h2 ok ${counts.h2Ok}, h2 refused and resent ${counts.h2Refused}, failed ${counts.failures.length}, balancer refused attempts ${balancer.stats.refusedAttempts}`;
}

/** Waits for `more` answers; a failure ends the wait early unless `failuresExpected`. */
async function okAtLeast(load: DrainLoad, more: number, what: string, failuresExpected = false): Promise<void> {
  const target = load.ok + more;
  await waitFor(`${more} more answers ${what}`, () => load.ok >= target || (!failuresExpected && load.counts.failures.length > 0), 30_000);
}

test('rolling restart of every ingress under load: zero failed requests', async () => {
  const load = newLoad();
  load.start();
  let counts: LoadCounts;
  try {
    await okAtLeast(load, OK_BETWEEN_STEPS, 'before the restart');
    let replacement = 0;
    for (const old of [...backends]) {
      // The new pod first (surge), then the old one terminated; the balancer still lists the old
      // one, as Service endpoints do for a moment: a refused connection goes to the next backend.
      const fresh = await stack.startIngressReplica(`ingress-new-${++replacement}`);
      backends.push({ name: fresh.id, port: fresh.httpsPort, process: fresh.process });
      balancer.setBackends(backends.map((b) => b.port));
      await okAtLeast(load, OK_BETWEEN_STEPS / 3, `with ${fresh.id} added`);
      const exited = exitCodeOf(old.process);
      old.process.child.kill('SIGTERM');
      assert.equal(await exited, 0, `${old.name} exit code`);
      backends.splice(backends.indexOf(old), 1);
      balancer.setBackends(backends.map((b) => b.port));
      const drain = old.process.records.find((r) => r.msg === 'draining connections');
      assert.ok(drain, `${old.name} drained connections`);
      assert.ok(Number(drain['connections']) > 0, `${old.name} had connections to drain`);
      assert.ok(old.process.records.some((r) => r.msg === 'drained: every connection closed'), `${old.name} drained within its deadline`);
      await okAtLeast(load, OK_BETWEEN_STEPS, `after ${old.name} left`);
    }
  } finally {
    counts = await load.stop();
  }
  console.log(`rolling restart of 3 ingresses: ${summary(counts)}`);
  assert.deepEqual(counts.failures, [], summary(counts));
  assert.ok(counts.h1Ok > 0 && counts.h2Ok > 0, 'both protocols carried load');
});

test('kill -9 of an ingress under load: only the requests in flight on it fail', async () => {
  const load = newLoad();
  load.start();
  let counts: LoadCounts;
  let killedAt = 0;
  try {
    await okAtLeast(load, OK_BETWEEN_STEPS, 'before the kill');
    const victim = backends[0]!;
    killedAt = Date.now();
    await victim.process.kill();
    await okAtLeast(load, OK_BETWEEN_STEPS * 2, 'after the kill', true);
    backends.splice(0, 1);
    balancer.setBackends(backends.map((b) => b.port));
  } finally {
    counts = await load.stop();
  }
  console.log(`kill -9 of one of 3 ingresses: ${summary(counts)}`);
  const late = counts.failures.filter((f) => f.startedAt > killedAt + KILL_NOTICE_MS);
  assert.deepEqual(late, [], 'no request sent after the kill failed');
  assert.ok(counts.failures.length <= H1_CLIENTS + H2_SESSIONS * H2_STREAMS_PER_SESSION, `at most one in-flight request per client fails: ${summary(counts)}`);
});

test('one ingress drained: listener closed at once, in-flight HTTP/1.1 answered with Connection: close, idle keep-alive closed, HTTP/2 GOAWAY with its open stream completed', async () => {
  const node = await stack.startIngressReplica('ingress-focus');
  const url = `https://127.0.0.1:${node.httpsPort}`;
  const idle = new Client(url, { connect: { ca, servername: HOST }, keepAliveTimeout: 60_000 } as ConstructorParameters<typeof Client>[1]);
  const busy = new Client(url, { connect: { ca, servername: HOST }, keepAliveTimeout: 60_000 } as ConstructorParameters<typeof Client>[1]);
  const h2 = http2.connect(url, { ca, servername: HOST });
  h2.on('error', () => undefined);
  try {
    // An idle keep-alive connection (one request done), a slow HTTP/1.1 request and a slow HTTP/2 stream in flight.
    const first = await idle.request({ path: PATH, method: 'GET', headers: { host: HOST } });
    assert.equal(await first.body.text(), BODY);
    let idleClosedAt = 0;
    idle.on('disconnect', () => (idleClosedAt = Date.now()));
    const slowBefore = slowAtOrigin;
    const slowH1 = busy.request({ path: '/slow', method: 'GET', headers: { host: HOST } });
    let goaway = false;
    const slowSeen = (): boolean => slowAtOrigin >= slowBefore + 2;
    h2.on('goaway', () => (goaway = true));
    const slowH2 = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = h2.request({ ':path': '/slow', ':authority': HOST });
      let status = 0;
      let body = '';
      stream.setEncoding('utf8');
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('end', () => resolve({ status, body }));
      stream.on('error', reject);
      stream.end();
    });
    await waitFor('both slow requests at the origin', slowSeen);
    const exited = exitCodeOf(node.process);
    const signalledAt = Date.now();
    node.process.child.kill('SIGTERM');
    await node.process.waitForLog('listeners closed', (r) => r.msg === 'draining: listeners closed');
    assert.equal(await tcpOpen(node.httpsPort), false, 'no new connection once draining');
    const h1Answer = await slowH1;
    assert.equal(h1Answer.statusCode, 200);
    assert.equal(h1Answer.headers['connection'], 'close', 'the in-flight HTTP/1.1 response closes its connection');
    assert.equal(await h1Answer.body.text(), BODY);
    assert.deepEqual(await slowH2, { status: 200, body: BODY }, 'the open HTTP/2 stream completes after GOAWAY');
    assert.equal(goaway, true, 'HTTP/2 GOAWAY received');
    await waitFor('idle keep-alive connection closed by the ingress', () => idleClosedAt > 0, 5_000);
    assert.ok(idleClosedAt - signalledAt < SLOW_DELAY_MS, 'the idle connection closed before the slow ones ended');
    assert.equal(await exited, 0);
    assert.ok(node.process.records.some((r) => r.msg === 'drained: every connection closed'));
  } finally {
    h2.destroy();
    await idle.destroy().catch(() => undefined);
    await busy.destroy().catch(() => undefined);
    await node.process.kill();
  }
});

test('a request that outlives HOPGATE_DRAIN_TIMEOUT_MS is cut at the deadline and the ingress exits 0', async () => {
  const deadlineMs = 1_000;
  const node = await stack.startIngressReplica('ingress-deadline', { HOPGATE_DRAIN_TIMEOUT_MS: String(deadlineMs) });
  const client = new Client(`https://127.0.0.1:${node.httpsPort}`, { connect: { ca, servername: HOST } } as ConstructorParameters<typeof Client>[1]);
  try {
    const before = hangAtOrigin;
    const hanging = client.request({ path: '/hang', method: 'GET', headers: { host: HOST } }).then(
      () => 'answered',
      () => 'cut',
    );
    await waitFor('the request at the origin', () => hangAtOrigin > before);
    const exited = exitCodeOf(node.process);
    const signalledAt = Date.now();
    node.process.child.kill('SIGTERM');
    assert.equal(await exited, 0);
    const took = Date.now() - signalledAt;
    assert.ok(took >= deadlineMs && took < deadlineMs + 5_000, `exit after the deadline: ${took} ms`);
    assert.equal(await hanging, 'cut');
    const passed = node.process.records.find((r) => r.msg === 'drain deadline passed: the rest are cut');
    assert.ok(passed, 'deadline logged');
    assert.ok(Number(passed['open_connections']) >= 1);
  } finally {
    await client.destroy().catch(() => undefined);
    await node.process.kill();
  }
});
