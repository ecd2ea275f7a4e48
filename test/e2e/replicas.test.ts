/**
 * Agent replicas, retries and hub drain, with real processes: two agents of one client (each
 * its own instance_id) share its requests; one `kill -9`ed costs no GET (retries cover its
 * in-flight requests); a bodyless GET cut mid-request is retried once on the other instance,
 * a POST with a body is not; SIGTERM of each hub in turn under continuous GET load fails
 * nothing (make-before-break). Each agent dials its hub through a UDP relay that can be
 * re-pointed (as hubs behind one load-balanced UDP address), so a moved agent reaches the other hub.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import { Redis } from 'ioredis';
import { Stack, UdpLossProxy, waitFor, type ManagedProcess, type LogRecord } from '@hopgate/testkit';
import { PublicClient } from './helpers.js';

const HOST = 'nas.hopgate.test';
const CLIENT = 'nas';
/** How long the hubs give their agents to move on SIGTERM, in ms. */
const DRAIN_TIMEOUT_MS = 15_000;
/** Concurrent GETs of the load loops. */
const LOAD_CONCURRENCY = 4;
/** A test's whole budget, in ms (generous: 2 shared cores). */
const TEST_TIMEOUT_MS = 120_000;

let stack: Stack;
let pub: PublicClient;
let token: string;
let redis: Redis;

/** An origin per replica: its body names the replica; `/pending` is held (never answered) while `hold` is set. */
interface ReplicaOrigin {
  name: string;
  address: string;
  served: number;
  pending: number;
  hold: boolean;
  close(): Promise<void>;
}

async function startReplicaOrigin(name: string): Promise<ReplicaOrigin> {
  const origin: ReplicaOrigin = { name, address: '', served: 0, pending: 0, hold: false, close: async () => undefined };
  const server = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/pending' && origin.hold) {
      origin.pending += 1;
      return; // never answered: the instance dies with it in flight
    }
    origin.served += 1;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`served by ${name}\n`);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  origin.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  origin.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return origin;
}

interface Replica {
  instanceId: string;
  origin: ReplicaOrigin;
  proxy: UdpLossProxy;
  agent: ManagedProcess;
}

const replicas: Replica[] = [];

/** Starts a replica of CLIENT whose datagrams go to hub `hub` through its own re-pointable relay. */
async function startReplica(instanceId: string, origin: ReplicaOrigin, hub: number, proxy?: UdpLossProxy): Promise<Replica> {
  const relay = proxy ?? (await UdpLossProxy.start({ target: { host: '127.0.0.1', port: stack.hubs[hub]!.port } }));
  relay.retarget({ host: '127.0.0.1', port: stack.hubs[hub]!.port });
  const agent = await stack.startAgent({ clientId: CLIENT, token, services: { web: origin.address }, serverPort: relay.port, extra: { instance_id: instanceId } });
  return { instanceId, origin, proxy: relay, agent };
}

/** The hub id an agent's latest session is on (from its `online` log line). */
function hubOf(agent: ManagedProcess): string | undefined {
  if (agent.exited) return undefined;
  return agent.records.findLast((r) => r.msg === 'online: session established')?.['hub_id'] as string | undefined;
}

/** GETs `/` with LOAD_CONCURRENCY in flight until `stop()`; counts statuses and transport errors. */
function startLoad(): { stop: () => Promise<{ ok: number; failed: number; failures: string[] }>; sent: () => number } {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    while (running) {
      try {
        const res = await pub.request(HOST, '/');
        if (res.status === 200) ok += 1;
        else failures.push(`${res.status} ${res.headers['x-hopgate-request-id'] ?? ''} ${res.body.toString().slice(0, 120)}`);
      } catch (err) {
        failures.push(`error ${(err as Error).message}`);
      }
    }
  };
  const workers = Array.from({ length: LOAD_CONCURRENCY }, () => worker());
  let stopped: Promise<{ ok: number; failed: number; failures: string[] }> | undefined;
  return {
    sent: () => ok + failures.length,
    stop: () => {
      running = false;
      stopped ??= Promise.all(workers).then(() => ({ ok, failed: failures.length, failures }));
      return stopped;
    },
  };
}

function ingressRecords(from: number, match: (r: LogRecord) => boolean): LogRecord[] {
  return stack.ingress.records.slice(from).filter(match);
}

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-replicas-'));
  stack = await Stack.start({ dir, hubs: 2, hubEnv: { HOPGATE_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS) } });
  token = await stack.addClient(CLIENT);
  await stack.setRoute(HOST, '/', `${CLIENT}/web`);
  pub = new PublicClient(stack);
  redis = new Redis(stack.redis.url);
  replicas.push(await startReplica('nas-a', await startReplicaOrigin('a'), 0));
  replicas.push(await startReplica('nas-b', await startReplicaOrigin('b'), 1));
});

after(async () => {
  await pub?.close();
  redis?.disconnect();
  await stack?.stop();
  for (const r of replicas) {
    await r.proxy.close();
    await r.origin.close();
  }
});

test('two replicas of one client share its requests; `hopgate session ls` shows one line per instance', { timeout: TEST_TIMEOUT_MS }, async () => {
  const [a, b] = [replicas[0]!, replicas[1]!];
  await waitFor('both instances routed', async () => {
    const before = [a.origin.served, b.origin.served];
    for (let i = 0; i < 20; i++) assert.equal((await pub.request(HOST, '/')).status, 200);
    return a.origin.served > before[0]! && b.origin.served > before[1]!;
  }, 20_000, 200);
  const servedA = a.origin.served;
  const servedB = b.origin.served;
  for (let i = 0; i < 40; i++) assert.equal((await pub.request(HOST, '/')).status, 200);
  const gotA = a.origin.served - servedA;
  const gotB = b.origin.served - servedB;
  console.log(`# 40 sequential GETs: replica a served ${gotA}, replica b served ${gotB}`);
  assert.equal(gotA + gotB, 40);
  assert.ok(gotA >= 5 && gotB >= 5, `both replicas serve (a ${gotA}, b ${gotB})`);
  const ls = await stack.cli(['session', 'ls']);
  assert.equal(ls.code, 0, ls.stderr);
  const lines = ls.stdout.trim().split('\n').map((l) => l.split(/\s+/));
  assert.deepEqual(lines[0], ['CLIENT', 'HUB', 'EPOCH', 'CONNECTED_AT', 'REMOTE', 'TTL', 'INSTANCE']);
  const rows = lines.filter((l) => l[0] === CLIENT).map((l) => [l[6], l[1]]);
  assert.deepEqual(rows, [['nas-a', 'hub-1'], ['nas-b', 'hub-2']]);
});

test('DEL hopgate:session:<id> does not end a session: routing goes on, the hub writes the record again with the same epoch', { timeout: TEST_TIMEOUT_MS }, async () => {
  const before = await redis.hgetall(`hopgate:session:${CLIENT}`);
  assert.ok(before['epoch'], 'the client-wide record exists');
  const onlineBefore = replicas.map((r) => r.agent.countLogs((rec) => rec.msg === 'online: session established'));
  assert.equal(await redis.del(`hopgate:session:${CLIENT}`), 1);
  for (let i = 0; i < 10; i++) assert.equal((await pub.request(HOST, '/')).status, 200);
  const again = await waitFor('record written again', async () => {
    const rec = await redis.hgetall(`hopgate:session:${CLIENT}`);
    return rec['epoch'] ? rec : undefined;
  }, 10_000, 50);
  const epochs = new Set((await Promise.all(replicas.map((r) => redis.hget(`hopgate:instance:${CLIENT}:${r.instanceId}`, 'epoch')))).map(String));
  assert.ok(epochs.has(again['epoch']!), `re-written with a live instance's own epoch (${again['epoch']})`);
  assert.deepEqual(replicas.map((r) => r.agent.countLogs((rec) => rec.msg === 'online: session established')), onlineBefore, 'no agent reconnected');
});

test('a bodyless GET cut mid-request by its instance dying is retried once on the other instance; a POST with a body is not', { timeout: TEST_TIMEOUT_MS }, async () => {
  const [a, b] = [replicas[0]!, replicas[1]!];
  const client = (): Client => new Client(`https://127.0.0.1:${stack.httpsPort}`, { connect: { ca: fs.readFileSync(stack.ca.certFile, 'utf8'), servername: HOST } });

  /** Sends `method /pending` until one is held by replica b (a answers at once); returns its answer. */
  const pendingOnB = async (method: 'GET' | 'POST'): Promise<{ reply: Promise<{ status: number; body: string }>; c: Client }> => {
    b.origin.hold = true;
    for (let i = 0; i < 50; i++) {
      const c = client();
      const heldBefore = b.origin.pending;
      const reply = c
        .request({ path: '/pending', method, headers: { host: HOST }, ...(method === 'POST' ? { body: 'payload' } : {}) })
        .then(async (res) => ({ status: res.statusCode, body: await res.body.text() }));
      const landed = await Promise.race([
        reply.then(() => 'answered'),
        waitFor('held by b', () => b.origin.pending > heldBefore, 10_000, 10).then(() => 'held'),
      ]);
      if (landed === 'held') return { reply, c };
      await c.close();
    }
    throw new Error('no request landed on replica b in 50 tries');
  };

  const from = stack.ingress.records.length;
  const get = await pendingOnB('GET');
  await b.agent.kill();
  const got = await get.reply;
  await get.c.close();
  assert.equal(got.status, 200, `the retried GET is answered (${got.body})`);
  assert.equal(got.body, 'served by a\n');
  const served = await stack.ingress.waitForLog('retried GET logged', (r) => r.msg === 'request served' && r['retried'] === true, 10_000, from);
  console.log(`# GET retried after instance loss: first failure ${String(served['first_failure_code'])} (${String(served['first_failure_reason'])}), answered in ${String(served['duration_ms'])} ms`);
  assert.equal(served['instance_id'], 'nas-a');
  assert.equal(typeof served['first_failure_code'], 'string');
  assert.equal(ingressRecords(from, (r) => r.msg === 'request failed before its answer: retrying once').length, 1, 'retried exactly once');

  // Replica b again, then a POST with a body held on it: its loss is the browser's answer.
  const restarted = await startReplica('nas-b', b.origin, 1, b.proxy);
  replicas[1] = restarted;
  await waitFor('b routed again', async () => {
    const before = b.origin.served;
    for (let i = 0; i < 10; i++) await pub.request(HOST, '/');
    return b.origin.served > before;
  }, 20_000, 100);
  const fromPost = stack.ingress.records.length;
  const post = await pendingOnB('POST');
  const servedByABeforePost = a.origin.served;
  await restarted.agent.kill();
  const posted = await post.reply;
  await post.c.close();
  // The lost instance's error is the answer: 502, or 504 while a dead agent is noticed by its silence.
  assert.ok(posted.status === 502 || posted.status === 504, `a POST with a body is not retried (${posted.status} ${posted.body})`);
  assert.equal(a.origin.served, servedByABeforePost, 'the POST never reached the other replica');
  const failed = await stack.ingress.waitForLog('POST failed', (r) => r.msg === 'request failed' && r['status'] === posted.status, 10_000, fromPost);
  assert.equal(failed['retried'], undefined);
  assert.equal(ingressRecords(fromPost, (r) => r.msg === 'request failed before its answer: retrying once').length, 0);
  b.origin.hold = false;
  assert.equal(a.agent.exited, false);
  replicas[1] = await startReplica('nas-b', b.origin, 1, b.proxy);
});

test('one replica killed (SIGKILL) under continuous GET load: zero failed requests, the other replica takes them all', { timeout: TEST_TIMEOUT_MS }, async () => {
  const [a, b] = [replicas[0]!, replicas[1]!];
  await waitFor('b routed', async () => {
    const before = b.origin.served;
    for (let i = 0; i < 10; i++) await pub.request(HOST, '/');
    return b.origin.served > before;
  }, 20_000, 100);
  const load = startLoad();
  const servedA = a.origin.served;
  try {
    await waitFor('load running', () => load.sent() > 50, 20_000, 20);
    await b.agent.kill();
    const killedAt = Date.now();
    // Past the hub's dead-agent detection (HOPGATE_AGENT_IDLE_TIMEOUT_MS 3 s in the Stack) and the owner cache.
    await waitFor('a took the load for a while', () => Date.now() - killedAt > 6_000 && a.origin.served - servedA > 100, 30_000, 50);
  } finally {
    await load.stop();
  }
  const result = await load.stop();
  console.log(`# replica killed under load: ${result.ok} ok, ${result.failed} failed; ${a.origin.served - servedA} served by a after the kill`);
  assert.deepEqual(result.failures, [], 'no GET failed');
  assert.equal(result.failed, 0);
  replicas[1] = await startReplica('nas-b', b.origin, 1, b.proxy);
});

test('SIGTERM drain of each hub in turn under continuous GET load: agents move make-before-break, zero failed requests', { timeout: TEST_TIMEOUT_MS * 2 }, async () => {
  await waitFor('replicas on both hubs', () => new Set(replicas.map((r) => hubOf(r.agent))).size === 2, 20_000, 50);
  const load = startLoad();
  try {
    await drainEachHub(load);
  } finally {
    await load.stop();
  }
  const result = await load.stop();
  console.log(`# rolling drain of both hubs under load: ${result.ok} ok, ${result.failed} failed`);
  assert.deepEqual(result.failures, [], 'no request failed');
  assert.equal(result.failed, 0);
  assert.ok(result.ok > 200, `the load ran throughout (${result.ok})`);
});

async function drainEachHub(load: ReturnType<typeof startLoad>): Promise<void> {
  await waitFor('load running', () => load.sent() > 50, 20_000, 20);
  for (const index of [0, 1]) {
    const hub = stack.hubs[index]!;
    const other = stack.hubs[1 - index]!;
    const moving = replicas.filter((r) => hubOf(r.agent) === hub.id);
    assert.ok(moving.length > 0, `an agent is on ${hub.id}`);
    const marks = moving.map((r) => r.agent.records.length);
    // New flows (the moving agents' new sessions) reach the other hub, as behind a balancer.
    for (const r of replicas) r.proxy.retarget({ host: '127.0.0.1', port: other.port });
    const sent = load.sent();
    const stoppedAt = Date.now();
    await hub.process.stop(DRAIN_TIMEOUT_MS + 10_000);
    const drainMs = Date.now() - stoppedAt;
    const drained = hub.process.records.find((r) => r.msg === 'drained');
    assert.ok(drained, `${hub.id} logged its drain`);
    assert.equal(drained['sessions_left'], 0, 'every agent moved before the deadline');
    assert.equal(hub.process.child.exitCode, 0);
    for (const [i, r] of moving.entries()) {
      const from = marks[i]!;
      const online = r.agent.records.slice(from).find((rec) => rec.msg === 'online: session established');
      assert.equal(online?.['hub_id'], other.id, `${r.instanceId} moved to ${other.id}`);
      const retired = r.agent.records.slice(from).findIndex((rec) => rec.msg === 'closing the old session: the new one is online and the old one is idle');
      assert.ok(retired >= 0, `${r.instanceId} closed its old session itself`);
      assert.ok(r.agent.records.slice(from).findIndex((rec) => rec.msg === 'online: session established') < retired, 'new session online before the old one closed');
      assert.equal(r.agent.exited, false);
    }
    console.log(`# drain of ${hub.id}: ${moving.length} agent(s) moved, drain took ${drainMs} ms, ${load.sent() - sent} requests meanwhile`);
    await stack.startHub(index);
  }
  await waitFor('requests after both drains', async () => (await pub.request(HOST, '/')).status === 200, 10_000, 50);
}
