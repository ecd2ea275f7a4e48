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
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Stack, TcpBalancer, waitFor, type ManagedProcess } from '@hopgate/testkit';
import { DrainLoad, type LoadCounts } from './drain-load.js';
import { exitCodeOf } from './ops-helpers.js';

const HOST = 'drain.hopgate.test';
const PATH = '/work';
const BODY = 'done\n';
/** The origin answers after this long, in ms: requests are in flight when a signal comes. */
const ORIGIN_DELAY_MS = 25;
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
  origin = http.createServer((_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(BODY);
    }, ORIGIN_DELAY_MS);
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
