import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startRedis, startNats, waitFor } from '../src/index.js';

async function ping(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(payload));
    let got = '';
    s.on('data', (d) => { got += d; if (got.includes('\r\n')) { s.destroy(); resolve(got); } });
    s.on('error', reject);
  });
}

test('redis-server and nats-server start on private ports and stop', async () => {
  const redis = await startRedis();
  const nats = await startNats();
  try {
    assert.notEqual(redis.port, 6379);
    assert.notEqual(nats.port, 4222);
    assert.match(await ping(redis.port, 'PING\r\n'), /PONG/);
    assert.match(await ping(nats.port, ''), /^INFO /);
  } finally {
    await redis.stop();
    await nats.stop();
  }
  await waitFor('redis exit', () => redis.process.exitCode !== null || redis.process.signalCode !== null);
});
