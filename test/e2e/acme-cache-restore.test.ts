/**
 * Nothing lost to a Redis that lost its data (issue 10): the cert-manager mirrors what it
 * issued (and its ACME account key) to HOPGATE_ACME_CACHE_DIR; after FLUSHALL and a restart it
 * puts the still-valid certificate and the account key back into Redis instead of ordering
 * again (counted in pebble's own log: CAs rate-limit duplicate certificates).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { Stack, startPebble, type RunningPebble } from '@hopgate/testkit';
import { assertIssuedFor, certManagerEnv, readCert, waitValid } from './acme-helpers.js';

const NAME = 'kept.cache.test';
const ISSUE_TIMEOUT_MS = 20_000;
const keys = new RedisKeys();

let stack: Stack;
let pebble: RunningPebble;
let redis: Redis;
let cacheDir: string;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-acme-cache-'));
  cacheDir = path.join(dir, 'acme-cache');
  stack = await Stack.start({ dir, hubs: 0 });
  pebble = await startPebble({ dir: path.join(dir, 'pebble'), httpPort: stack.httpPort });
  redis = new Redis(stack.redis.url);
});

after(async () => {
  redis?.disconnect();
  await stack?.stop();
  await pebble?.stop();
});

test('FLUSHALL, then a cert-manager restart: the certificate and the account key come back from the cache folder, no new order', async () => {
  const env = certManagerEnv(pebble, { HOPGATE_ACME_DOMAINS: NAME, HOPGATE_ACME_CACHE_DIR: cacheDir });
  const first = await stack.startCertManager(env);
  const issued = await waitValid(redis, NAME, ISSUE_TIMEOUT_MS);
  assertIssuedFor(issued, NAME, await pebble.rootPem());
  const accountKey = await redis.hget(keys.acmeAccount, 'key_pem');
  assert.ok(accountKey);
  assert.ok(fs.existsSync(path.join(cacheDir, '_acme-account', 'key.pem')), 'the account key is mirrored');
  assert.equal(pebble.orderCount(), 1);
  await first.stop();

  await redis.flushall();
  assert.equal(await readCert(redis, NAME), undefined);
  const second = await stack.startCertManager(env);
  await second.waitForLog('restored', (r) => r.msg === 'certificate restored from the cache folder (no new order)' && r['cert_name'] === NAME, ISSUE_TIMEOUT_MS);
  const back = await waitValid(redis, NAME, ISSUE_TIMEOUT_MS);
  assert.equal(back.serial, issued.serial, 'the same certificate');
  assert.equal(back.chainPem, issued.chainPem);
  assert.equal(back.keyPem, issued.keyPem);
  assert.equal(await redis.hget(keys.acmeAccount, 'key_pem'), accountKey, 'the same ACME account key');
  await second.waitForLog('account restored', (r) => r.msg === 'acme account key restored from the cache folder', 5_000);
  // A renewal check pass (every second here) must not order it either.
  await second.waitForLog('a later pass', (r) => r.msg === 'certificates checked: nothing to order', 10_000);
  assert.equal(second.countLogs((r) => r.msg === 'ordering certificate'), 0, 'no order after the restart');
  assert.equal(pebble.orderCount(), 1, 'pebble saw no second order');
  assert.equal(pebble.accountCount(), 1, 'pebble holds one account');
});
