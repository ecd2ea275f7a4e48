/**
 * A Sentinel connection keeps reconnecting when a failover is announced in the middle of a
 * reconnect.
 *
 * ioredis's failover detector (a subscription to `+switch-master` on every sentinel) drops the
 * connection by calling the connector's `disconnect()`, which also clears the connector's
 * `connecting` flag. When the message lands while a reconnect is asking a sentinel for the
 * primary, that reconnect then rejects ("Connection is closed.") and the client goes to status
 * `end` for good: no more reconnects, and every command fails from then on. CI met it as an
 * ingress whose route table stopped following Redis after a `kill -9` of the primary (a route
 * edit on the new primary was never served). `patches/ioredis+5.9.2.patch` makes the detector
 * end the stream only.
 *
 * The test puts the detector's call in that window on purpose: the sentinels are stopped
 * (SIGSTOP), the client's connection is killed on the primary, and once the client is asking a
 * sentinel, the detector of the killed connection is made to fire, as a `+switch-master` would.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { ServiceSettings, redisConnectionConfig } from '@hopgate/config';
import { redisCli, startRedisSentinelSet, waitFor, type RedisSentinelSet } from '@hopgate/testkit';
import { createRedis } from '../src/index.js';

/** The client's reconnect backoff in this test, in ms (the route loader's shape, shorter). */
const RECONNECT_DELAY_MS = 100;
/** How long the sentinels stay stopped after the detector fired, in ms (the reconnect waits on one of them meanwhile). */
const SENTINELS_STOPPED_MS = 300;
/** The client must be ready again, with its data, within this time after the sentinels resume, in ms. */
const RECOVERY_TIMEOUT_MS = 10_000;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-sentinel-reconnect-'));
let set: RedisSentinelSet | undefined;

after(async () => {
  for (const s of set?.sentinels ?? []) s.process.kill('SIGCONT');
  await set?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The parts of ioredis's SentinelConnector this test reaches into (not in its typings). */
interface SentinelInternals {
  connector: { failoverDetector?: { isDisconnected: boolean; disconnect(): void } };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

test('a +switch-master that lands while a reconnect asks the sentinels: the client reconnects (it never goes to "end")', async () => {
  set = await startRedisSentinelSet({ dir: path.join(tmp, 'set'), replicas: 1 });
  const config = redisConnectionConfig(new ServiceSettings(set.env));
  const redis: Redis = createRedis(config, {
    name: 'hopgate-reconnect-test',
    options: { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => RECONNECT_DELAY_MS },
  });
  redis.on('error', () => undefined);
  const statuses: string[] = [];
  redis.on('end', () => statuses.push('end'));
  try {
    await redis.connect();
    await redis.set('hopgate:test:reconnect', 'kept');
    const internals = redis as unknown as SentinelInternals;
    // The detector subscribes once the stream connected (asynchronously).
    const detector = await waitFor('the failover detector of the first connection', () => internals.connector.failoverDetector, 5_000, 20);
    const clientId = String(await redis.client('ID'));
    const primary = await set.primaryPort();

    for (const s of set.sentinels) s.process.kill('SIGSTOP');
    await redisCli(primary, ['CLIENT', 'KILL', 'ID', clientId]);
    // The reconnect asks the first sentinel, which is stopped: it waits for an answer there.
    await waitFor('the client reconnecting (asking a sentinel)', () => redis.status === 'connecting', 5_000, 5);
    await sleep(RECONNECT_DELAY_MS);
    assert.equal(redis.status, 'connecting', 'still asking the stopped sentinel');
    assert.equal(detector.isDisconnected, false, 'the killed connection left its detector subscribed');
    detector.disconnect(); // what a +switch-master message on any sentinel makes it do
    await sleep(SENTINELS_STOPPED_MS);
    for (const s of set.sentinels) s.process.kill('SIGCONT');

    await waitFor(
      'the client ready again with its data',
      async () => redis.status === 'ready' && (await redis.get('hopgate:test:reconnect')) === 'kept',
      RECOVERY_TIMEOUT_MS,
      50,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message} (status ${redis.status}, events: ${statuses.join(',') || 'none'})`);
    });
    assert.deepEqual(statuses, [], 'the client never ended');
  } finally {
    redis.disconnect();
  }
});
