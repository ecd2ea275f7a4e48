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
import { Stack, UdpLossProxy, serviceMain, waitFor, type ManagedProcess } from '@hopgate/testkit';
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

/** A GET every REQUEST_INTERVAL_MS on a pool: a request hung on a dead hub never queues the next ones. */
class Load {
  readonly outcomes: Outcome[] = [];
  private readonly pool: Pool;
  private readonly pending: Array<Promise<void>> = [];
  private readonly timer: NodeJS.Timeout;

  constructor(host: string) {
    this.pool = new Pool(`https://127.0.0.1:${stack.httpsPort}`, {
      connections: LOAD_CONNECTIONS,
      pipelining: 1,
      connect: { ca: fs.readFileSync(stack.ca.certFile, 'utf8'), servername: host },
    });
    this.timer = setInterval(() => {
      const sentAt = Date.now();
      const done = (status: number): void => void this.outcomes.push({ sentAt, doneAt: Date.now(), status });
      this.pending.push(
        this.pool
          .request({ path: '/hello', method: 'GET', headers: { host } })
          .then(async (res) => {
            await res.body.dump();
            done(res.statusCode);
          })
          .catch(() => done(0)),
      );
    }, REQUEST_INTERVAL_MS);
  }

  /** The first 200 to a request sent at or after `since`. */
  firstOkSince(since: number): Promise<Outcome> {
    return waitFor('a 200', () => this.outcomes.find((o) => o.sentAt >= since && o.status === 200), REHOME_TARGET_MS + 10_000, 20);
  }

  /** What the requests sent in [from, to) got, and the longest answer time among them. */
  between(from: number, to: number): string {
    const sent = this.outcomes.filter((o) => o.sentAt >= from && o.sentAt < to);
    const slowest = Math.max(0, ...sent.map((o) => o.doneAt - o.sentAt));
    return `${sent.length} requests sent before it, statuses ${JSON.stringify(sent.map((o) => o.status))}, the slowest answered in ${slowest} ms`;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled(this.pending);
    await this.pool.close();
  }
}

/** Log time of a record as ms since the epoch. */
function timeOf(record: Record<string, unknown>): number {
  return Date.parse(String(record['time']));
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
  const load = new Load(HOST);
  try {
    await new Promise((resolve) => setTimeout(resolve, 5 * REQUEST_INTERVAL_MS));
    const endedFrom = agent.records.length;
    const killedAt = Date.now();
    await stack.hubs[holder]!.process.kill();
    const firstOk = await load.firstOkSince(killedAt);
    const gapMs = firstOk.doneAt - killedAt;
    // The agent left the dead hub on the ICMP port unreachable its next keepalive PING drew.
    const ended = await agent.waitForLog('session ended', (r) => r.msg === 'session with the hub ended', 5_000, endedFrom);
    const detectedMs = timeOf(ended) - killedAt;
    const rehomed = await agent.waitForLog('online again', (r) => r.msg === 'online: session established', 5_000, endedFrom);
    console.log(
      `rehome: hub killed -> agent noticed in ${detectedMs} ms (${String(ended['reason'])}), online on the other hub after ${timeOf(rehomed) - killedAt} ms; ` +
        `first 200 after ${gapMs} ms; ${load.between(killedAt, firstOk.sentAt)}`,
    );
    assert.match(String(ended['reason']), /ICMP port unreachable/);
    assert.ok(detectedMs < DEFAULT_KEEPALIVE_INTERVAL_MS + SLACK_MS, `the agent noticed after ${detectedMs} ms`);
    assert.equal(rehomed['hub_id'], stack.hubs[1 - holder]!.id, 'the agent moved to the other hub');
    assert.ok(gapMs < REHOME_TARGET_MS, `first 200 ${gapMs} ms after the kill`);
    assert.equal(agent.records.slice(endedFrom).filter((r) => r.msg === 'reconnecting after backoff').length, 0, 'no backoff before the first reconnect');
  } finally {
    await load.stop();
  }
  await stack.startHub(holder);
});

test('a hub whose path goes silent (no ICMP: a host that lost power): the agent moves to the other hub within keepalive + dead-peer bound', async () => {
  const host = 'drift.hopgate.test';
  const driftToken = await stack.addClient('drifter');
  await stack.setRoute(host, '/', 'drifter/web');
  // One proxy in front of each hub: cutting one drops every datagram both ways, and its socket stays open.
  const proxies = await Promise.all(stack.hubs.map((hub) => UdpLossProxy.start({ target: { host: '127.0.0.1', port: hub.port } })));
  const drifter = await stack.startAgent({
    clientId: 'drifter',
    token: driftToken,
    services: { web: origin.address },
    // The default idle timeout (the stack sets 3 s), so the dead-peer bound is what fires.
    extra: { server: proxies.map((proxy) => `127.0.0.1:${proxy.port}`), idle_timeout_ms: 15_000 },
  });
  const load = new Load(host);
  try {
    const online = drifter.records.find((r) => r.msg === 'online: session established')!;
    const cut = proxies.findIndex((proxy) => online['hub'] === `127.0.0.1:${proxy.port}`);
    assert.ok(cut >= 0, `online through ${String(online['hub'])}`);
    await waitFor('served', () => load.outcomes.find((o) => o.status === 200), 10_000, 20);
    const endedFrom = drifter.records.length;
    const cutAt = Date.now();
    proxies[cut]!.configure({ lossRate: 1 });
    const firstOk = await load.firstOkSince(cutAt);
    const gapMs = firstOk.doneAt - cutAt;
    const ended = await drifter.waitForLog('session ended', (r) => r.msg === 'session with the hub ended', 5_000, endedFrom);
    const detectedMs = timeOf(ended) - cutAt;
    const rehomed = await drifter.waitForLog('online again', (r) => r.msg === 'online: session established', 5_000, endedFrom);
    console.log(
      `silent hub: path cut -> agent noticed in ${detectedMs} ms (${String(ended['reason'])}), online through the other hub after ${timeOf(rehomed) - cutAt} ms; ` +
        `first 200 after ${gapMs} ms; ${load.between(cutAt, firstOk.sentAt)}`,
    );
    assert.match(String(ended['reason']), /peer stopped answering: no acknowledgement for \d+ ms \(bound \d+ ms\)/);
    assert.ok(detectedMs >= MIN_DEAD_PEER_MS - SLACK_MS && detectedMs < DEFAULT_KEEPALIVE_INTERVAL_MS + MIN_DEAD_PEER_MS + SLACK_MS, `the agent noticed after ${detectedMs} ms`);
    assert.equal(rehomed['hub'], `127.0.0.1:${proxies[1 - cut]!.port}`, 'the agent moved to the other hub');
    assert.ok(gapMs < REHOME_TARGET_MS, `first 200 ${gapMs} ms after the cut`);
  } finally {
    await load.stop();
    await drifter.stop();
    for (const proxy of proxies) await proxy.close();
  }
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
