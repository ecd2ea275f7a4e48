/**
 * Agents find a live hub (issue 10): an agent configured with both hubs' addresses moves to
 * the other hub within 5 s of a `kill -9` of the hub that holds its session, and a dead agent
 * is noticed by its hub within seconds (a clear 502, never transport jargon in the body).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { Stack, serviceMain, waitFor, type ManagedProcess } from '@hopgate/testkit';
import { DEFAULT_KEEPALIVE_INTERVAL_MS, MIN_DEAD_PEER_MS } from '@hopgate/transport';
import { startOrigin, PublicClient, assertPublicError, waitForIngressReason, type Origin } from './helpers.js';

const HOST = 'rehome.hopgate.test';
/** The target: every agent of a killed hub serves again through another hub within this, in ms. */
const REHOME_TARGET_MS = 5_000;
/** A client request every this many ms while the hub dies. */
const REQUEST_INTERVAL_MS = 100;
/** Connections of the load's client: every request has its own, so none waits behind a hung one. */
const LOAD_CONNECTIONS = 128;
/** Scheduling slack on a busy 2-core machine, in ms. */
const SLACK_MS = 1_500;

let stack: Stack;
let origin: Origin;
let pub: PublicClient;
let token: string;
let agent: ManagedProcess;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-rehome-'));
  stack = await Stack.start({ dir, hubs: 2 });
  origin = await startOrigin('rehome');
  token = await stack.addClient('roamer');
  await stack.setRoute(HOST, '/', 'roamer/web');
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await stack?.stop();
  await origin?.close();
});

interface Outcome {
  sentAt: number;
  doneAt: number;
  status: number;
}

test('kill -9 of the hub holding the session: the agent serves again through the other hub within 5 s', async () => {
  agent = await stack.startAgent({
    clientId: 'roamer',
    token,
    services: { web: origin.address },
    extra: { server: stack.hubs.map((hub) => `127.0.0.1:${hub.port}`) },
  });
  const online = agent.records.find((r) => r.msg === 'online: session established')!;
  const holder = stack.hubs.findIndex((hub) => hub.id === online['hub_id']);
  assert.ok(holder >= 0, `online on ${String(online['hub_id'])}`);
  await waitFor('served', async () => (await pub.request(HOST, '/hello')).status === 200, 10_000, 50);

  // Its own connection per request in flight: a request hung on the dead hub must not queue the next ones.
  const load = new Pool(`https://127.0.0.1:${stack.httpsPort}`, { connections: LOAD_CONNECTIONS, pipelining: 1, connect: { ca: fs.readFileSync(stack.ca.certFile, 'utf8'), servername: HOST } });
  const get = async (): Promise<number> => {
    const res = await load.request({ path: '/hello', method: 'GET', headers: { host: HOST } });
    await res.body.dump();
    return res.statusCode;
  };
  const outcomes: Outcome[] = [];
  let running = true;
  const pending: Array<Promise<void>> = [];
  const loop = setInterval(() => {
    if (!running) return;
    const sentAt = Date.now();
    pending.push(
      get().then(
        (status) => void outcomes.push({ sentAt, doneAt: Date.now(), status }),
        () => void outcomes.push({ sentAt, doneAt: Date.now(), status: 0 }),
      ),
    );
  }, REQUEST_INTERVAL_MS);
  try {
    await new Promise((resolve) => setTimeout(resolve, 5 * REQUEST_INTERVAL_MS));
    const endedFrom = agent.records.length;
    const killedAt = Date.now();
    await stack.hubs[holder]!.process.kill();
    const firstOk = await waitFor(
      'a 200 through the other hub',
      () => outcomes.find((o) => o.sentAt >= killedAt && o.status === 200),
      REHOME_TARGET_MS + 10_000,
      20,
    );
    const gapMs = firstOk.doneAt - killedAt;
    // The agent left the dead hub on the ICMP port unreachable its next keepalive PING drew.
    const ended = await agent.waitForLog('session ended', (r) => r.msg === 'session with the hub ended', 5_000, endedFrom);
    const detectedMs = Date.parse(String(ended['time'])) - killedAt;
    const rehomed = await agent.waitForLog('online again', (r) => r.msg === 'online: session established', 5_000, endedFrom);
    const rehomedMs = Date.parse(String(rehomed['time'])) - killedAt;
    // Requests sent before the agent was online elsewhere went to the dead hub (the ingress's owner cache).
    const sentBefore = outcomes.filter((o) => o.sentAt >= killedAt && o.sentAt < firstOk.sentAt);
    const slowest = Math.max(0, ...sentBefore.map((o) => o.doneAt - o.sentAt));
    console.log(
      `rehome: hub killed -> agent noticed in ${detectedMs} ms (${String(ended['reason'])}), online on the other hub after ${rehomedMs} ms; ` +
        `first 200 after ${gapMs} ms; ${sentBefore.length} requests sent before it, statuses ${JSON.stringify(sentBefore.map((o) => o.status))}, the slowest answered in ${slowest} ms`,
    );
    assert.match(String(ended['reason']), /ICMP port unreachable/);
    assert.ok(detectedMs < DEFAULT_KEEPALIVE_INTERVAL_MS + SLACK_MS, `the agent noticed after ${detectedMs} ms`);
    assert.equal(rehomed['hub_id'], stack.hubs[1 - holder]!.id, 'the agent moved to the other hub');
    assert.ok(gapMs < REHOME_TARGET_MS, `first 200 ${gapMs} ms after the kill`);
    assert.equal(agent.records.slice(endedFrom).filter((r) => r.msg === 'reconnecting after backoff').length, 0, 'no backoff before the first reconnect');
  } finally {
    running = false;
    clearInterval(loop);
    await Promise.allSettled(pending);
    await load.close();
  }
  await stack.startHub(holder);
});

test('kill -9 of an agent: its hub notices within seconds; a request in flight gets a clear 502 naming no transport detail', async () => {
  const seen = origin.seen.filter((r) => r.url === '/hang').length;
  const hanging = pub.request(HOST, '/hang');
  await waitFor('origin got /hang', () => origin.seen.filter((r) => r.url === '/hang').length > seen, 5_000, 20);
  const killedAt = Date.now();
  await agent.kill();
  const reply = await hanging;
  const elapsed = Date.now() - killedAt;
  const body = reply.body.toString();
  console.log(`dead agent: in-flight request answered ${reply.status} after ${elapsed} ms: ${JSON.stringify(body)}`);
  assert.equal(reply.status, 502);
  const id = assertPublicError(body, 'ERR_CLOSED', reply.headers['x-hopgate-request-id'] as string);
  assert.doesNotMatch(body, /transport code|acknowledgement|peer/i);
  // Keepalive PING, then the dead-peer bound: far under the 3 s idle timeout the stack sets, and the old 15 s.
  assert.ok(elapsed < DEFAULT_KEEPALIVE_INTERVAL_MS + MIN_DEAD_PEER_MS + SLACK_MS, `answered after ${elapsed} ms`);
  await waitForIngressReason(stack, id, /stopped answering/);
  await waitFor('502 offline', async () => (await pub.request(HOST, '/hello')).status === 502, 10_000, 100);
});

test('HOPGATE_DTLS_COOKIE_SECRET too short: the hub exits 2 with a clear message and without the secret', async () => {
  const secret = 'ab'.repeat(16);
  const child = spawn(process.execPath, [serviceMain('dtls-hub')], {
    env: { ...process.env, HOPGATE_DTLS_COOKIE_SECRET: secret, HOPGATE_DTLS_CERT_FILE: stack.hubCert.certFile, HOPGATE_DTLS_KEY_FILE: stack.hubCert.keyFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 2);
  assert.match(stderr, /HOPGATE_DTLS_COOKIE_SECRET entry 1 of 1 has 16 bytes; at least 32 are needed/);
  assert.ok(!stderr.includes(secret));
});
