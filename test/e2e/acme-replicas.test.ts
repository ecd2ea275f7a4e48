/**
 * Two cert-manager replicas started together against one Redis: one account key, exactly
 * one ACME order per name (counted in pebble's own log), every name valid.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { Stack, startPebble, waitFor, type ManagedProcess, type RunningPebble } from '@hopgate/testkit';
import { assertIssuedFor, certManagerEnv, waitValid } from './acme-helpers.js';

const ISSUE_TIMEOUT_MS = 20_000;
const CONFIGURED = ['one.replicas.test', 'two.replicas.test'];
const ROUTED = 'routed.replicas.test';
const LATE = 'late.replicas.test';

const keys = new RedisKeys();
let stack: Stack;
let pebble: RunningPebble;
let redis: Redis;
let replicas: ManagedProcess[];

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-acme-replicas-'));
  stack = await Stack.start({ dir, hubs: 0 });
  pebble = await startPebble({ dir: path.join(dir, 'pebble'), httpPort: stack.httpPort });
  redis = new Redis(stack.redis.url);
  await redis.hset(keys.route(ROUTED), '/', 'laptop/web');
  const env = (id: string): Record<string, string> => certManagerEnv(pebble, { HOPGATE_ACME_DOMAINS: CONFIGURED.join(','), HOPGATE_CERT_MANAGER_ID: id });
  replicas = await Promise.all([stack.startCertManager(env('replica-a')), stack.startCertManager(env('replica-b'))]);
});

after(async () => {
  redis?.disconnect();
  await stack?.stop();
  await pebble?.stop();
});

test('two replicas: one account key, exactly one order per name, all names valid', async () => {
  const root = await pebble.rootPem();
  const names = [...CONFIGURED, ROUTED];
  for (const name of names) assertIssuedFor(await waitValid(redis, name, ISSUE_TIMEOUT_MS), name, root);
  // A host routed while both run is ordered once too.
  await redis.hset(keys.route(LATE), '/', 'laptop/web');
  assertIssuedFor(await waitValid(redis, LATE, ISSUE_TIMEOUT_MS), LATE, root);
  names.push(LATE);
  // Let renewal passes run (every second, one shared scheduler) and both route loaders re-read:
  // none of them may order again.
  const passes = (): number => replicas.reduce((n, r) => n + r.countLogs((rec) => rec.component === 'cert-sync'), 0);
  const seen = passes();
  await waitFor('three more passes', () => passes() >= seen + 3, 10_000);
  for (const name of names) assert.equal(pebble.validationCount(name), 1, `${name}: one order`);
  assert.equal(pebble.orderCount(), names.length, 'orders in all');
  const ordered = replicas.map((r) => r.countLogs((rec) => rec.msg === 'certificate issued'));
  assert.equal(ordered[0]! + ordered[1]!, names.length, `issued per replica: ${ordered.join(', ')}`);
  // One account: one key in Redis, created by one replica; pebble holds one account.
  const created = replicas.map((r) => r.countLogs((rec) => rec.msg === 'acme account key created'));
  assert.equal(created[0]! + created[1]!, 1);
  const account = await redis.hgetall(keys.acmeAccount);
  assert.equal((account['key_pem']?.match(/BEGIN PRIVATE KEY/g) ?? []).length, 1);
  assert.equal(pebble.accountCount(), 1);
  assert.equal(await redis.keys('hopgate:cert-lock:*').then((k) => k.length), 0, 'locks released');
  for (const r of replicas) assert.equal(r.exited, false);
});
