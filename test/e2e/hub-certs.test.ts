/**
 * The dtls-hub's certificate from Redis (`hopgate:cert:<HOPGATE_HUB_NAME>`), without any
 * file certificate: the hub starts with none and refuses handshakes, serves once the
 * certificate appears, swaps it live on `hopgate.cert.updated` while existing agent
 * sessions keep serving, and keeps the current one when the record turns bad.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack, HUB_SERVER_NAME, createDevCa, type ManagedProcess } from '@hopgate/testkit';
import { startOrigin, PublicClient, type Origin } from './helpers.js';
import { CertControl, opensslClient, firstPem } from './cert-helpers.js';
import { opsPortOf } from './ops-helpers.js';
import { scrape, valueOf } from './metrics-helpers.js';

/** HOPGATE_CERT_REREAD_INTERVAL_MS of the hub: far beyond the test, so the broadcast is what acts. */
const REREAD_OFF_MS = 600_000;
/** An agent retries every reconnect_max_ms (2 s in the stack) at most: it is online again within this, in ms. */
const ONLINE_DEADLINE_MS = 15_000;

let stack: Stack;
let web: Origin;
let control: CertControl;
let pub: PublicClient;
let firstAgent: ManagedProcess;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-hub-certs-'));
  stack = await Stack.start({ dir, hubFileCert: false, hubEnv: { HOPGATE_HUB_NAME: HUB_SERVER_NAME, HOPGATE_CERT_REREAD_INTERVAL_MS: String(REREAD_OFF_MS) } });
  control = await CertControl.open(stack);
  web = await startOrigin('web');
  await stack.setRoute('app.hopgate.test', '/', 'laptop/web');
  await stack.setRoute('desk.hopgate.test', '/', 'desk/web');
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await control?.close();
  await stack?.stop();
  await web?.close();
});

/** The serial of the certificate the hub presents now, seen by `openssl s_client -dtls1_2`. */
async function hubSerial(): Promise<string> {
  const out = await opensslClient(['-dtls1_2', '-connect', `127.0.0.1:${stack.hubs[0]!.port}`, '-servername', HUB_SERVER_NAME, '-CAfile', stack.ca.certFile, '-showcerts']);
  const pem = firstPem(out.output);
  assert.ok(pem, `no certificate from the hub: ${out.output.slice(-500)}`);
  assert.match(out.output, /Verification: OK/);
  return new crypto.X509Certificate(pem).serialNumber.toLowerCase();
}

test('a hub with no certificate anywhere starts, says it waits, refuses handshakes, and serves once the certificate appears', async () => {
  const hub = stack.hubs[0]!.process;
  await hub.waitForLog('waiting', (r) => String(r.msg).startsWith(`dtls-hub waits for the certificate of ${HUB_SERVER_NAME}`));
  const token = await stack.addClient('laptop');
  firstAgent = await stack.startAgent({ clientId: 'laptop', token, services: { web: web.address }, waitOnline: false });
  await hub.waitForLog('handshake refused', (r) => r.msg === 'handshake refused: this hub has no certificate yet');
  assert.equal(hub.exited, false);
  assert.equal(firstAgent.countLogs((r) => r.msg === 'online: session established'), 0);
  const record = await control.put(HUB_SERVER_NAME, stack.ca.issue('hub-redis-1', [HUB_SERVER_NAME]));
  await control.broadcast(record);
  await hub.waitForLog('loaded', (r) => r.msg === 'hub certificate loaded' && r['source'] === 'redis' && r['serial'] === record.serial);
  await firstAgent.waitForLog('online', (r) => r.msg === 'online: session established', ONLINE_DEADLINE_MS);
  const res = await pub.request('app.hopgate.test', '/hello');
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'hello from web\n');
  assert.equal(await hubSerial(), record.serial!.toLowerCase());
});

test('a new certificate + broadcast: the next handshake sees the new serial, the existing agent session keeps serving', async () => {
  const hub = stack.hubs[0]!.process;
  const from = hub.records.length;
  const issued = stack.ca.issue('hub-redis-2', [HUB_SERVER_NAME]);
  const record = await control.put(HUB_SERVER_NAME, issued);
  await control.broadcast(record);
  await hub.waitForLog('swapped', (r) => r.msg === 'hub certificate loaded' && r['serial'] === record.serial, 10_000, from);
  assert.equal(await hubSerial(), record.serial!.toLowerCase());
  // /metrics: the served certificate's notAfter under the hub's name.
  const metrics = (await scrape(await opsPortOf(hub))).samples;
  const notAfterSeconds = Math.floor(Date.parse(new crypto.X509Certificate(issued.certPem).validTo) / 1000);
  assert.equal(valueOf(metrics, 'hopgate_certificate_expiry_timestamp_seconds', { name: HUB_SERVER_NAME }), notAfterSeconds);
  const res = await pub.request('app.hopgate.test', '/hello');
  assert.equal(res.body.toString(), 'hello from web\n');
  assert.equal(firstAgent.countLogs((r) => r.msg === 'online: session established'), 1, 'the first agent never reconnected');
  const deskToken = await stack.addClient('desk');
  await stack.startAgent({ clientId: 'desk', token: deskToken, services: { web: web.address } });
  assert.equal((await pub.request('desk.hopgate.test', '/hello')).status, 200);
});

test('an agent that trusts another CA refuses the hub with a clear error', async () => {
  const other = createDevCa(path.join(stack.dir, 'other-pki'), 'Some Other CA');
  const token = await stack.addClient('stranger');
  const agent = await stack.startAgent({ clientId: 'stranger', token, services: { web: web.address }, caFile: other.certFile, waitOnline: false });
  const refusal = await agent.waitForLog('refusal', (r) => r.msg === 'refusing the hub: its certificate does not verify');
  assert.equal(refusal['code'], 'ERR_CERT_VERIFY');
  assert.match(String(refusal['err']), /not signed by a trusted CA/);
  assert.equal(agent.countLogs((r) => r.msg === 'online: session established'), 0);
});

test('a malformed record in Redis is logged once and the current certificate stays', async () => {
  const hub = stack.hubs[0]!.process;
  const current = await hubSerial();
  await control.redis.hset(`hopgate:cert:${HUB_SERVER_NAME}`, { chain_pem: 'garbage', key_pem: 'garbage' });
  const bogus = { name: HUB_SERVER_NAME, status: 'valid', serial: '00' } as Parameters<CertControl['broadcast']>[0];
  await control.broadcast(bogus);
  await control.broadcast(bogus);
  await hub.waitForLog('bad record', (r) => r.msg === 'hub certificate record in redis is unusable: keeping the current one');
  await control.broadcast(bogus);
  assert.equal(await hubSerial(), current);
  assert.equal(hub.countLogs((r) => r.msg === 'hub certificate record in redis is unusable: keeping the current one'), 1);
  assert.equal(hub.exited, false);
  assert.equal((await pub.request('app.hopgate.test', '/hello')).status, 200);
});
