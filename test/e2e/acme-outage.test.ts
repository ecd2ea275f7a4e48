/**
 * The ACME server is down: the cert-manager records `failed` with a clear last_error,
 * retries with growing delays, gives a job up and lets the next renewal pass try again,
 * stays up, and issues as soon as the server is back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Stack, startPebble, waitFor, type ManagedProcess, type RunningPebble } from '@hopgate/testkit';
import { assertIssuedFor, certManagerEnv, readCert, waitValid } from './acme-helpers.js';

const NAME = 'down.outage.test';
/** HOPGATE_ACME_RETRY_BASE_MS here: delays 300, 600, 1200, 2400 ms. */
const RETRY_BASE_MS = 300;

let stack: Stack;
let pebble: RunningPebble;
let redis: Redis;
let manager: ManagedProcess;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-acme-outage-'));
  stack = await Stack.start({ dir, hubs: 0 });
  pebble = await startPebble({ dir: path.join(dir, 'pebble'), httpPort: stack.httpPort });
  await pebble.stopAcme();
  redis = new Redis(stack.redis.url);
  manager = await stack.startCertManager(certManagerEnv(pebble, { HOPGATE_ACME_DOMAINS: NAME, HOPGATE_ACME_RETRY_BASE_MS: String(RETRY_BASE_MS) }));
});

after(async () => {
  redis?.disconnect();
  await stack?.stop();
  await pebble?.stop();
});

test('ACME server down: failed with a clear last_error, growing retry delays, a later pass retries, issued once it is back', async () => {
  // Every attempt stamps last_attempt_at: collect the first four.
  const attempts: number[] = [];
  await waitFor('four attempts', async () => {
    const at = (await readCert(redis, NAME))?.lastAttemptAt;
    if (at !== undefined && !attempts.includes(at)) attempts.push(at);
    return attempts.length >= 4;
  }, 15_000, 10);
  const record = await waitFor('status failed', async () => {
    const r = await readCert(redis, NAME);
    return r?.status === 'failed' ? r : undefined;
  });
  assert.equal(record?.lastError, `ACME server ${pebble.directoryUrl} unreachable: ECONNREFUSED`);
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
  // Attempt n+1 cannot start before its backoff (base * 2^n) has passed; load can only add to it.
  gaps.forEach((gap, i) => assert.ok(gap >= RETRY_BASE_MS * 2 ** i, `delay ${i + 1}: ${gap} ms >= ${RETRY_BASE_MS * 2 ** i} (all: ${gaps.join(', ')})`));
  assert.ok(gaps[2]! > gaps[0]!, `delays grow: ${gaps.join(', ')} ms`);
  // The job gives up after its attempts; the next renewal pass starts a new one.
  await manager.waitForLog('gave up', (r) => r.msg === 'certificate order gave up; the next renewal pass tries again', 15_000);
  await manager.waitForLog('a new job', (r) => r.msg === 'ordering certificate' && r['attempt'] === '1/5', 10_000, manager.records.findIndex((r) => r.msg === 'certificate order gave up; the next renewal pass tries again'));
  assert.equal(manager.exited, false, 'the process stays up');
  // hopgate cert ls shows it (status "issuing" while a retry runs: the last error stays until a success).
  const ls = await stack.cli(['cert', 'ls']);
  assert.match(ls.stdout, /down\.outage\.test\s+(failed|issuing)\s+-\s+-\s+-\s+ACME server https:\/\/127\.0\.0\.1:\d+\/dir unreachable: ECONNREFUSED/);

  await pebble.startAcme();
  const issued = await waitValid(redis, NAME, 20_000);
  assertIssuedFor(issued, NAME, await pebble.rootPem());
  assert.equal(issued.lastError, undefined, 'last_error cleared');
  assert.equal(manager.exited, false);
});
