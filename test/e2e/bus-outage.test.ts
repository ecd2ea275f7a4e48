/**
 * Redis and NATS going away and coming back, with real processes (issue 10): the data path
 * rides out a Redis outage from what it cached (session owners, certificates, routes) and
 * fails fast where it knows nothing; a Redis restarted on the same port and data folder, or
 * a NATS restart, needs no restart of any service; a service started while Redis or NATS is
 * unreachable waits, says which one, and starts once it is there.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Stack, ManagedProcess, serviceMain, startRedis, startNats, freeTcpPort, tcpOpen, waitFor, type RunningServer } from '@hopgate/testkit';
import { startOrigin, PublicClient, type Origin } from './helpers.js';
import { CertControl, handshake } from './cert-helpers.js';

const HOST = 'app.hopgate.test';
/** Routed to a client that no request asked about before the outage. */
const GHOST_HOST = 'ghost.hopgate.test';
/** A name Redis holds no certificate for: the ingress never looked it up before the outage. */
const UNSEEN_HOST = 'unseen.hopgate.test';
/** How long Redis stays down in the outage test, in ms: longer than the owner cache's 1 s and the session TTL's 3 s. */
const OUTAGE_MS = 4_000;
/** A TLS handshake or a request during the outage must not wait on Redis: well under the 3 s seen before, in ms. */
const FAST_MS = 1_000;
/** How long Redis stays frozen in the hung-Redis test, in ms. */
const HUNG_MS = 3_000;
/** With Redis hung, no answer may wait much longer than DATA_PATH_COMMAND_TIMEOUT_MS (1 s), in ms. */
const HUNG_SLOWEST_MS = 2_500;
/** Service must be back within this time after Redis or NATS is, in ms (generous: 2 shared cores). */
const RECOVERY_MS = 10_000;

let stack: Stack;
let origin: Origin;
let certs: CertControl;
let appSerial: string;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-bus-outage-'));
  stack = await Stack.start({ dir, hubs: 1, redisPersistent: true });
  origin = await startOrigin('outage');
  const token = await stack.addClient('outagebox');
  await stack.setRoute(HOST, '/', 'outagebox/web');
  await stack.setRoute(GHOST_HOST, '/', 'ghost/web');
  await stack.startAgent({ clientId: 'outagebox', token, services: { web: origin.address } });
  certs = await CertControl.open(stack);
  const record = await certs.put(HOST, stack.ca.issue('app', [HOST]));
  appSerial = record.serial ?? '';
  assert.notEqual(appSerial, '');
});

after(async () => {
  await certs?.close();
  await stack?.stop();
  await origin?.close();
});

/** One request on a new connection (a new TLS handshake each time); the status, the body and the time it took. */
async function freshRequest(host: string, url = '/hello'): Promise<{ status: number; body: string; ms: number }> {
  const pub = new PublicClient(stack);
  const started = Date.now();
  try {
    const reply = await pub.request(host, url);
    return { status: reply.status, body: reply.body.toString('utf8'), ms: Date.now() - started };
  } finally {
    await pub.close();
  }
}

function crashFree(): void {
  assert.deepEqual(stack.crashSigns(), [], 'no service exited or crashed');
}

test('Redis stopped: requests keep flowing from the cached owner, handshakes come from memory or fail fast, no library text reaches a browser; Redis back on the same data: the hub re-claims, a route edit applies', async () => {
  const warm = await freshRequest(HOST);
  assert.equal(warm.status, 200);
  assert.equal((await handshake(stack.httpsPort, HOST, fs.readFileSync(stack.ca.certFile, 'utf8'))).serial.toLowerCase(), appSerial.toLowerCase());

  await stack.stopRedis();
  const outageStart = Date.now();
  let requests = 0;
  let slowest = 0;
  while (Date.now() - outageStart < OUTAGE_MS) {
    const reply = await freshRequest(HOST);
    requests += 1;
    slowest = Math.max(slowest, reply.ms);
    assert.equal(reply.status, 200, `request ${requests} during the Redis outage: ${reply.body}`);
  }
  const cached = await handshake(stack.httpsPort, HOST, fs.readFileSync(stack.ca.certFile, 'utf8'));
  assert.equal(cached.serial.toLowerCase(), appSerial.toLowerCase(), 'the Redis certificate is served from memory');
  const unseenStart = Date.now();
  const unseen = await handshake(stack.httpsPort, UNSEEN_HOST, fs.readFileSync(stack.ca.certFile, 'utf8'));
  const unseenMs = Date.now() - unseenStart;
  assert.ok(unseenMs < FAST_MS, `a name never looked up gets the default certificate at once (${unseenMs} ms)`);
  assert.notEqual(unseen.serial.toLowerCase(), appSerial.toLowerCase());
  // A client the ingress never asked about: nothing cached, the lookup fails fast with a plain answer.
  const unknown = await freshRequest(GHOST_HOST);
  assert.equal(unknown.status, 503, unknown.body);
  assert.ok(unknown.ms < FAST_MS, `an answer without Redis comes fast (${unknown.ms} ms)`);
  assert.doesNotMatch(unknown.body, /redis|ioredis|max retries|enableOfflineQueue|ECONNREFUSED/i, 'no library text in the body');
  console.log(`redis outage: ${requests} requests in ${OUTAGE_MS} ms, all 200, slowest ${slowest} ms (new TLS connection each); handshake for an unseen name ${unseenMs} ms`);
  assert.ok(slowest < FAST_MS * 2, `no request waited on Redis (slowest ${slowest} ms)`);

  const ingressMark = stack.ingress.records.length;
  await stack.startRedisAgain();
  const backAt = Date.now();
  // The session record expired while Redis was down (TTL 3 s): the hub's refresh claims it again.
  const check = new Redis(stack.redis.url);
  try {
    await waitFor('the hub re-asserted the session record', async () => (await check.hgetall('hopgate:session:outagebox'))['hub'] === 'hub-1', RECOVERY_MS, 100);
    console.log(`redis restart: session record re-asserted ${Date.now() - backAt} ms after Redis came back`);
    assert.equal((await freshRequest(HOST)).status, 200);
    // A route edit after the restart reaches the ingress (the route loader reconnected and re-subscribed).
    const editAt = Date.now();
    await stack.setRoute('edit.hopgate.test', '/', 'outagebox/web');
    await waitFor('the new route served', async () => (await freshRequest('edit.hopgate.test')).status === 200, RECOVERY_MS, 100);
    console.log(`redis restart: a route edit served ${Date.now() - editAt} ms after it was written`);
    await stack.ingress.waitForLog('route loader re-read after the reconnect', (r) => r.msg === 'redis connection ready; re-reading routes', 5_000, ingressMark);
  } finally {
    check.disconnect();
  }
  crashFree();
});

test('Redis hung (SIGSTOP, connections open, no answers): requests still flow from the cached owner, none waits more than the 1 s command timeout', async () => {
  assert.equal((await freshRequest(HOST)).status, 200);
  stack.redis.process.kill('SIGSTOP');
  const started = Date.now();
  let requests = 0;
  let slowest = 0;
  try {
    while (Date.now() - started < HUNG_MS) {
      const reply = await freshRequest(HOST);
      requests += 1;
      slowest = Math.max(slowest, reply.ms);
      assert.equal(reply.status, 200, `request ${requests} with Redis hung: ${reply.body}`);
    }
    const ghost = await freshRequest(GHOST_HOST);
    assert.equal(ghost.status, 503, 'an owner never read: 503 after the command timeout');
    slowest = Math.max(slowest, ghost.ms);
  } finally {
    stack.redis.process.kill('SIGCONT');
  }
  console.log(`redis hung: ${requests} requests in ${HUNG_MS} ms, all 200, slowest ${slowest} ms`);
  assert.ok(slowest < HUNG_SLOWEST_MS, `slowest ${slowest} ms`);
  // Frozen for as long as the session TTL (3 s), the record expires when Redis resumes; the hub's next refresh re-creates it.
  const check = new Redis(stack.redis.url);
  try {
    await waitFor('the session record back after SIGCONT', async () => (await check.hgetall('hopgate:session:outagebox'))['hub'] === 'hub-1', RECOVERY_MS, 100);
  } finally {
    check.disconnect();
  }
  await waitFor('served after SIGCONT', async () => (await freshRequest(HOST)).status === 200, RECOVERY_MS, 100);
  crashFree();
});

test('NATS restarted on the same port: ingress and hub reconnect and serve again without a restart of their own', async () => {
  await waitFor('served before the NATS restart', async () => (await freshRequest(HOST)).status === 200, RECOVERY_MS, 100);
  await stack.killNats();
  const down = await freshRequest(HOST);
  assert.equal(down.status, 503, 'without NATS the ingress says so at once');
  assert.doesNotMatch(down.body, /nats|ECONNREFUSED/i);
  const restartedAt = Date.now();
  await stack.restartNats();
  await waitFor('requests served again after the NATS restart', async () => (await freshRequest(HOST)).status === 200, RECOVERY_MS, 100);
  console.log(`nats restart: served again ${Date.now() - restartedAt} ms after nats-server was back`);
  crashFree();
});

test('a service started while Redis and NATS are unreachable waits, names each in a log line, and starts once they are there', async () => {
  const redisPort = await freeTcpPort();
  const natsPort = await freeTcpPort();
  const httpPort = await freeTcpPort();
  const dir = stack.logDir;
  const ingress = new ManagedProcess(
    'ingress-early',
    process.execPath,
    [serviceMain('https-ingress')],
    {
      HOPGATE_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      HOPGATE_NATS_URL: `nats://127.0.0.1:${natsPort}`,
      HOPGATE_HTTPS_LISTEN: 'off',
      HOPGATE_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
      HOPGATE_INGRESS_ID: 'ingress-early',
      HOPGATE_LOG_LEVEL: 'info',
    },
    path.join(dir, 'ingress-early.log'),
  );
  let redis: RunningServer | undefined;
  let nats: RunningServer | undefined;
  try {
    await ingress.waitForLog('waiting for Redis', (r) => String(r.msg).startsWith(`waiting for Redis at redis://127.0.0.1:${redisPort}`), 10_000);
    // Still waiting a while later, not exited ("Connection is closed" before).
    await ingress.waitForLog('a second waiting line', (r) => String(r.msg).startsWith('waiting for Redis'), 10_000, ingress.records.findIndex((r) => String(r.msg).startsWith('waiting for Redis')) + 1);
    assert.equal(ingress.exited, false);
    assert.ok(ingress.countLogs((r) => String(r.msg).startsWith('waiting for Redis')) <= 3, 'one line every few seconds, not one per attempt');
    redis = await startRedis({ port: redisPort });
    await ingress.waitForLog('waiting for NATS', (r) => String(r.msg).startsWith(`waiting for NATS at nats://127.0.0.1:${natsPort}`), 15_000);
    assert.equal(ingress.exited, false);
    nats = await startNats({ port: natsPort });
    await waitFor('the late ingress listening', async () => {
      if (ingress.exited) throw new Error(`ingress exited: ${ingress.stderr.slice(-300)}`);
      return tcpOpen(httpPort);
    }, RECOVERY_MS);
  } finally {
    await ingress.stop(2_000).catch(() => undefined);
    await nats?.stop();
    await redis?.stop();
  }
});
