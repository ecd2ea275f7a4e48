import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadHubConfig } from '@hopgate/config';
import { startRedis, startNats, createDevCa, captureLogger, waitFor, type RunningServer } from '@hopgate/testkit';
import { Hub } from '../src/hub.js';

let redis: RunningServer;
let nats: RunningServer;
let env: Record<string, string>;

before(async () => {
  redis = await startRedis();
  nats = await startNats();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-hub-drain-'));
  const cert = createDevCa(dir).issue('hub', ['hub.hopgate.test']);
  env = {
    HOPGATE_REDIS_URL: redis.url,
    HOPGATE_NATS_URL: nats.url,
    HOPGATE_HUB_ID: 'hub-drain',
    HOPGATE_DTLS_LISTEN: '127.0.0.1:0',
    HOPGATE_DTLS_CERT_FILE: cert.certFile,
    HOPGATE_DTLS_KEY_FILE: cert.keyFile,
  };
});

after(async () => {
  await nats?.stop();
  await redis?.stop();
});

test('readiness: false until started, true while serving, false ("draining") from the first moment of drain; drain is idempotent', async () => {
  const { logger, lines } = captureLogger('info');
  const hub = new Hub(loadHubConfig(env), logger);
  assert.deepEqual(hub.readiness(), { ready: false, reason: 'starting' });
  await hub.start();
  try {
    assert.deepEqual(hub.readiness(), { ready: true });
    const drained = hub.drain(5_000);
    assert.deepEqual(hub.readiness(), { ready: false, reason: 'draining' }, 'not ready before drain resolves');
    assert.equal(hub.drain(5_000), drained, 'a second call joins the first');
    const startedAt = Date.now();
    await drained;
    assert.ok(Date.now() - startedAt < 2_000, 'with no sessions, the drain ends at once');
    const done = lines.find((l) => l['msg'] === 'drained');
    assert.equal(done?.['sessions_left'], 0);
    assert.deepEqual(hub.readiness(), { ready: false, reason: 'draining' });
  } finally {
    await hub.stop();
  }
  assert.deepEqual(hub.readiness(), { ready: false, reason: 'draining' });
});

test('readiness: false while NATS or Redis is unreachable, true again once they are back', async () => {
  const { logger } = captureLogger('warn');
  const hub = new Hub(loadHubConfig(env), logger);
  await hub.start();
  try {
    assert.deepEqual(hub.readiness(), { ready: true });
    await nats.stop();
    await waitFor('nats disconnected', () => hub.readiness().reason === 'nats disconnected', 10_000, 20);
    nats = await startNats({ port: nats.port });
    await waitFor('ready after nats is back', () => hub.readiness().ready, 20_000, 50);
    await redis.stop();
    await waitFor('redis disconnected', () => hub.readiness().reason === 'redis disconnected', 10_000, 20);
    redis = await startRedis({ port: redis.port });
    await waitFor('ready after redis is back', () => hub.readiness().ready, 20_000, 50);
  } finally {
    await hub.stop();
  }
});
