/**
 * cert-manager end to end, HTTP-01: real pebble validating through the real https-ingress's
 * HTTP port (answers from Redis), a real cert-manager process, Redis and NATS.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decodeCertUpdated } from '@hopgate/certs';
import { RedisKeys, NatsSubjects } from '@hopgate/keys';
import { Stack, startPebble, waitFor, type ManagedProcess, type RunningPebble } from '@hopgate/testkit';
import { assertIssuedFor, certManagerEnv, readCert, waitValid } from './acme-helpers.js';

/** Time for one certificate to be ordered and validated by pebble, in ms. */
const ISSUE_TIMEOUT_MS = 20_000;
const DOMAIN = 'extra.acme.test';
const HUB = 'hub.acme.test';

const keys = new RedisKeys();
let stack: Stack;
let pebble: RunningPebble;
let redis: Redis;
let nc: NatsConnection;
let manager: ManagedProcess;
let cacheDir: string;
let rootPem: string;
const updates: string[] = [];

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-acme-http01-'));
  stack = await Stack.start({ dir, hubs: 0 });
  pebble = await startPebble({ dir: path.join(dir, 'pebble'), httpPort: stack.httpPort });
  rootPem = await pebble.rootPem();
  redis = new Redis(stack.redis.url);
  nc = await connect({ servers: stack.nats.url });
  nc.subscribe(new NatsSubjects().certUpdated, {
    callback: (err, msg) => {
      if (!err) updates.push(decodeCertUpdated(msg.data) ?? '(malformed)');
    },
  });
  cacheDir = path.join(dir, 'cert-cache');
  manager = await stack.startCertManager(certManagerEnv(pebble, { HOPGATE_ACME_DOMAINS: DOMAIN, HOPGATE_HUB_NAME: HUB, HOPGATE_ACME_CACHE_DIR: cacheDir, HOPGATE_LOG_LEVEL: 'debug' }));
});

after(async () => {
  await nc?.close();
  redis?.disconnect();
  await stack?.stop();
  await pebble?.stop();
});

test('HOPGATE_ACME_DOMAINS and HOPGATE_HUB_NAME are issued at start: chains verify against pebble root, P-256 keys', async () => {
  for (const name of [DOMAIN, HUB]) {
    const record = await waitValid(redis, name, ISSUE_TIMEOUT_MS);
    assertIssuedFor(record, name, rootPem);
    assert.ok(record.renewAt! > Date.now() && record.renewAt! < record.notAfter!, 'renew_at inside the lifetime');
    assert.equal(record.lastError, undefined);
  }
  // The account: one key, its URL recorded.
  const account = await redis.hgetall(keys.acmeAccount);
  assert.equal(account['directory'], pebble.directoryUrl);
  assert.match(account['key_pem'] ?? '', /BEGIN PRIVATE KEY/);
  await waitFor('account url recorded', async () => (await redis.hget(keys.acmeAccount, 'url'))?.startsWith('https://127.0.0.1:'));
  assert.equal(manager.exited, false);
});

test('a new route host (redis-cli HSET) gets a certificate within seconds, validated over HTTP-01 through the ingress', async () => {
  const host = 'fresh.acme.test';
  const before = pebble.orderCount();
  await redis.hset(keys.route(host), '/', 'laptop/web');
  const started = Date.now();
  const record = await waitValid(redis, host, ISSUE_TIMEOUT_MS);
  assertIssuedFor(record, host, rootPem);
  assert.ok(Date.now() - started < ISSUE_TIMEOUT_MS);
  assert.equal(pebble.orderCount() - before, 1, 'one order');
  // pebble really fetched the key authorization from the ingress on its HTTP port.
  await stack.ingress.waitForLog('http-01 answered', (r) => r.msg === 'acme http-01: challenge answered' && String(r['host']).split(':')[0] === host);
  // The challenge material is gone once the order ended.
  await waitFor('challenge removed', async () => (await redis.keys('hopgate:acme:http01:*')).length === 0);
  // Broadcast on NATS once stored and mirrored to the cache folder.
  await waitFor('hopgate.cert.updated for the host', () => updates.includes(host));
  const fullchain = fs.readFileSync(path.join(cacheDir, host, 'fullchain.pem'), 'utf8');
  assert.equal(fullchain, record.chainPem);
  const keyStat = fs.statSync(path.join(cacheDir, host, 'privkey.pem'));
  assert.equal(keyStat.mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(path.join(cacheDir, host, 'privkey.pem'), 'utf8'), record.keyPem);
});

test('a wildcard route host ends not_issuable with a clear last_error, warned once', async () => {
  const host = '*.wild.acme.test';
  await redis.hset(keys.route(host), '/', 'laptop/web');
  const record = await waitFor('wildcard marked', async () => {
    const r = await readCert(redis, host);
    return r?.status === 'not_issuable' ? r : undefined;
  }, 10_000);
  assert.match(record.lastError ?? '', /DNS-01/);
  assert.equal(record.chainPem, undefined);
  // Further passes (the scheduler runs every second) do not warn again.
  const passesBefore = manager.countLogs((r) => r.msg === 'certificates checked: nothing to order' || r.msg === 'certificate orders queued');
  await waitFor('two more scheduler passes', () => manager.countLogs((r) => r.msg === 'certificates checked: nothing to order' || r.msg === 'certificate orders queued') >= passesBefore + 2, 10_000);
  assert.equal(manager.countLogs((r) => r.msg === 'no certificate for this name' && r['cert_name'] === host), 1);
});

test('hopgate cert renew: a new certificate (new serial) replaces the old, hopgate.cert.updated is broadcast, the cache mirror follows', async () => {
  const old = await waitValid(redis, DOMAIN, ISSUE_TIMEOUT_MS);
  const seen = updates.filter((n) => n === DOMAIN).length;
  const res = await stack.cli(['cert', 'renew', DOMAIN]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /renewal of extra\.acme\.test is due now/);
  const renewed = await waitValid(redis, DOMAIN, ISSUE_TIMEOUT_MS, old.serial);
  assert.notEqual(renewed.serial, old.serial);
  assertIssuedFor(renewed, DOMAIN, rootPem);
  assert.ok(renewed.renewAt! > Date.now(), 'renew_at moved to the new lifetime');
  await waitFor('hopgate.cert.updated for the renewal', () => updates.filter((n) => n === DOMAIN).length > seen);
  const mirrored = new X509Certificate(fs.readFileSync(path.join(cacheDir, DOMAIN, 'fullchain.pem'), 'utf8'));
  assert.equal(mirrored.serialNumber, renewed.serial);
  assert.ok(manager.records.some((r) => r.msg === 'ordering certificate' && r['cert_name'] === DOMAIN && r['renewing'] === true));
});

test('hopgate cert ls shows status, dates, issuer and the last error', async () => {
  const res = await stack.cli(['cert', 'ls']);
  assert.equal(res.code, 0, res.stderr);
  const lines = res.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^NAME\s+STATUS\s+NOT_AFTER\s+RENEW_AT\s+ISSUER\s+LAST_ERROR$/);
  const wild = lines.find((l) => l.startsWith('*.wild.acme.test'));
  assert.match(wild ?? '', /not_issuable .*DNS-01/);
  const fresh = lines.find((l) => l.startsWith('fresh.acme.test'));
  assert.match(fresh ?? '', /^fresh\.acme\.test\s+valid\s+\d{4}-\d\d-\d\dT\S+Z\s+\d{4}-\d\d-\d\dT\S+Z\s+CN=Pebble Intermediate CA \S+\s+-$/);
});
