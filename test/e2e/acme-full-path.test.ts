/**
 * ACME through the whole product, with real pebble validation: the ingress and the hub have
 * no file certificate at all. The cert-manager orders the hub's certificate
 * (HOPGATE_HUB_NAME) and a route host's over HTTP-01 answered by the real ingress; an agent
 * trusting pebble's root connects to the hub; curl trusting pebble's root reaches the origin
 * through ingress -> NATS -> hub -> DTLS -> agent; renewals are picked up live by the ingress
 * and the hub, with no restart and no new agent session.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { connectDtls } from '@hopgate/dtls';
import { RedisKeys } from '@hopgate/keys';
import { Stack, HUB_SERVER_NAME, startPebble, waitFor, type ManagedProcess, type RunningPebble } from '@hopgate/testkit';
import { assertIssuedFor, certManagerEnv, waitValid } from './acme-helpers.js';
import { handshake } from './cert-helpers.js';
import { curl } from './edge-helpers.js';
import { startOrigin, type Origin } from './helpers.js';

/** Time for one certificate to be ordered and validated by pebble, in ms. */
const ISSUE_TIMEOUT_MS = 20_000;
/** Time for the ingress / hub to serve a renewed certificate (broadcast, else the 1 s re-read), in ms. */
const LIVE_SWAP_TIMEOUT_MS = 10_000;
/** Interval between two probing handshakes while waiting for a swap, in ms (each is a full TLS / DTLS handshake). */
const SWAP_POLL_INTERVAL_MS = 200;
/** Refused connection attempts an agent must make (reconnect backoff 100 ms .. 2 s) before we call it refusing for good. */
const REFUSALS_EXPECTED = 3;
/** HOPGATE_CERT_REREAD_INTERVAL_MS of the ingress and the hub. */
const REREAD_INTERVAL_MS = '1000';
const HOST = 'shop.full.test';
const ONLINE = 'online: session established';

const keys = new RedisKeys();
let stack: Stack;
let pebble: RunningPebble;
let redis: Redis;
let web: Origin;
let rootPem: string;
let rootFile: string;
let agent: ManagedProcess;

/** curl through the ingress's HTTPS port, as `host`, trusting only pebble's root. */
function curlTrustingPebble(host: string, urlPath: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return curl(['-sS', '--max-time', '10', '--cacert', rootFile, '--resolve', `${host}:${stack.httpsPort}:127.0.0.1`, `https://${host}:${stack.httpsPort}${urlPath}`]);
}

/** The serial the hub presents to a new DTLS handshake (verified against pebble's root), upper-case hex. */
async function hubSerial(): Promise<string> {
  const link = await connectDtls({ host: '127.0.0.1', port: stack.hubs[0]!.port, serverName: HUB_SERVER_NAME, ca: rootPem });
  try {
    return link.peerCertificate.serialNumber;
  } finally {
    link.close();
  }
}

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-acme-full-'));
  stack = await Stack.start({
    dir,
    ingressFileCert: false,
    hubFileCert: false,
    hubEnv: { HOPGATE_HUB_NAME: HUB_SERVER_NAME, HOPGATE_CERT_REREAD_INTERVAL_MS: REREAD_INTERVAL_MS },
    ingressEnv: { HOPGATE_CERT_REREAD_INTERVAL_MS: REREAD_INTERVAL_MS },
  });
  pebble = await startPebble({ dir: path.join(dir, 'pebble'), httpPort: stack.httpPort, tlsPort: stack.httpsPort });
  rootPem = await pebble.rootPem();
  rootFile = path.join(dir, 'pebble-root.pem');
  fs.writeFileSync(rootFile, rootPem);
  redis = new Redis(stack.redis.url);
  web = await startOrigin('web');
  await stack.startCertManager(certManagerEnv(pebble, { HOPGATE_HUB_NAME: HUB_SERVER_NAME }));
});

after(async () => {
  redis?.disconnect();
  await stack?.stop();
  await pebble?.stop();
  await web?.close();
});

test('HTTP-01: the hub gets a pebble certificate, an agent trusting pebble\'s root connects, a new route host is issued and curl reaches the origin through the tunnel', async () => {
  const hubRecord = await waitValid(redis, HUB_SERVER_NAME, ISSUE_TIMEOUT_MS);
  assertIssuedFor(hubRecord, HUB_SERVER_NAME, rootPem);
  const hub = stack.hubs[0]!.process;
  await hub.waitForLog('hub certificate loaded', (r) => r.msg === 'hub certificate loaded' && r['serial'] === hubRecord.serial, LIVE_SWAP_TIMEOUT_MS);
  assert.equal(await hubSerial(), hubRecord.serial);

  const token = await stack.addClient('laptop');
  agent = await stack.startAgent({ clientId: 'laptop', token, services: { web: web.address }, caFile: rootFile, serverName: HUB_SERVER_NAME });

  // An operator adds a route with redis-cli HSET: the cert-manager orders it, pebble validates over the ingress's HTTP port.
  await redis.hset(keys.route(HOST), '/', 'laptop/web');
  const record = await waitValid(redis, HOST, ISSUE_TIMEOUT_MS);
  assertIssuedFor(record, HOST, rootPem);
  await stack.ingress.waitForLog('route applied', (r) => r.msg === 'route table changed' && (r['added'] as string[]).some((a) => a.startsWith(HOST)));
  await stack.ingress.waitForLog('http-01 answered', (r) => r.msg === 'acme http-01: challenge answered' && String(r['host']).split(':')[0] === HOST);

  const res = await curlTrustingPebble(HOST, '/hello');
  assert.equal(res.code, 0, `curl failed: ${res.stderr}`);
  assert.equal(res.stdout, 'hello from web\n');
  assert.ok(web.seen.some((s) => s.url === '/hello'), 'the origin saw the request');
  const served = await handshake(stack.httpsPort, HOST, rootPem);
  assert.equal(served.authorized, true);
  assert.equal(served.serial, record.serial, 'the ingress serves the stored certificate by SNI');
});

test('an agent trusting another CA (the stack\'s dev CA) refuses the pebble-issued hub and never comes online', async () => {
  const token = await stack.addClient('stranger');
  const stranger = await stack.startAgent({ clientId: 'stranger', token, services: { web: web.address }, caFile: stack.ca.certFile, waitOnline: false });
  const refusal = await stranger.waitForLog('refusal', (r) => r.msg === 'refusing the hub: its certificate does not verify');
  assert.equal(refusal['code'], 'ERR_CERT_VERIFY');
  assert.match(String(refusal['err']), /not signed by a trusted CA/);
  // It keeps retrying with backoff and keeps refusing: wait for further attempts, none may succeed.
  await waitFor(`${REFUSALS_EXPECTED} refusals`, () => stranger.countLogs((r) => r.msg === 'refusing the hub: its certificate does not verify') >= REFUSALS_EXPECTED, 10_000);
  assert.equal(stranger.countLogs((r) => r.msg === ONLINE), 0);
  await stranger.stop();
});

test('renewal of the route host and the hub: new serials served live by ingress and hub, no restart, the agent keeps its session', async () => {
  const pids = { ingress: stack.ingress.pid, hub: stack.hubs[0]!.process.pid, agent: agent.pid, manager: stack.certManagers[0]!.pid };
  const oldHost = await waitValid(redis, HOST, ISSUE_TIMEOUT_MS);
  const oldHub = await waitValid(redis, HUB_SERVER_NAME, ISSUE_TIMEOUT_MS);
  for (const name of [HOST, HUB_SERVER_NAME]) {
    const res = await stack.cli(['cert', 'renew', name]);
    assert.equal(res.code, 0, res.stderr);
  }
  const newHost = await waitValid(redis, HOST, ISSUE_TIMEOUT_MS, oldHost.serial);
  const newHub = await waitValid(redis, HUB_SERVER_NAME, ISSUE_TIMEOUT_MS, oldHub.serial);
  assertIssuedFor(newHost, HOST, rootPem);
  assertIssuedFor(newHub, HUB_SERVER_NAME, rootPem);

  // A new TLS handshake to the ingress and a new DTLS handshake to the hub see the new serials.
  await waitFor('ingress serves the renewed certificate', async () => (await handshake(stack.httpsPort, HOST, rootPem)).serial === newHost.serial, LIVE_SWAP_TIMEOUT_MS, SWAP_POLL_INTERVAL_MS);
  await waitFor('hub serves the renewed certificate', async () => (await hubSerial()) === newHub.serial, LIVE_SWAP_TIMEOUT_MS, SWAP_POLL_INTERVAL_MS);

  // The existing agent session carried on through the hub's swap and still serves.
  const res = await curlTrustingPebble(HOST, '/after-renewal');
  assert.equal(res.code, 0, `curl failed: ${res.stderr}`);
  assert.equal(res.stdout, 'web GET /after-renewal\n');
  assert.equal(agent.countLogs((r) => r.msg === ONLINE), 1, 'no second session');
  assert.equal(agent.countLogs((r) => r.msg === 'session with the hub ended'), 0);

  // Nothing was restarted.
  assert.deepEqual({ ingress: stack.ingress.pid, hub: stack.hubs[0]!.process.pid, agent: agent.pid, manager: stack.certManagers[0]!.pid }, pids);
  for (const proc of [stack.ingress, stack.hubs[0]!.process, agent, stack.certManagers[0]!]) assert.equal(proc.exited, false, `${proc.name} still running`);
});
