import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import { startRedis, startNats, waitFor, freeTcpPort, freeUdpPort } from '../src/index.js';
import { TEST_PORT_RANGE_LOW } from '../src/ports.js';

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

test('free ports come from below the kernel ephemeral range, where outgoing connections never land, and are bindable', async () => {
  const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  for (let i = 0; i < 20; i++) {
    const tcp = await freeTcpPort();
    const udp = await freeUdpPort();
    for (const port of [tcp, udp]) assert.ok(port >= TEST_PORT_RANGE_LOW && port < low, `port ${port} outside [${TEST_PORT_RANGE_LOW}, ${low})`);
    await new Promise<void>((resolve, reject) => {
      const srv = net.createServer().once('error', reject).listen(tcp, '127.0.0.1', () => srv.close(() => resolve()));
    });
  }
});

test('startRedis with dataDir keeps the data (AOF) for a server started again on the same folder; without it nothing is left behind', async () => {
  const dataDir = fs.mkdtempSync(`${os.tmpdir()}/hopgate-redis-data-`);
  const first = await startRedis({ dataDir });
  assert.match(await ping(first.port, 'SET kept yes\r\n'), /^\+OK/);
  await first.stop();
  const again = await startRedis({ dataDir, port: first.port });
  try {
    // The port opens before the AOF is loaded: until then Redis answers -LOADING.
    const kept = await waitFor('the AOF loaded', async () => {
      const answer = await ping(again.port, 'GET kept\r\n');
      return answer.startsWith('-LOADING') ? undefined : answer;
    });
    assert.equal(kept, '$3\r\nyes\r\n');
  } finally {
    await again.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const cwdBefore = fs.readdirSync('.').filter((f) => f.endsWith('.rdb')).length;
  const scratch = await startRedis();
  await ping(scratch.port, 'SAVE\r\n');
  await scratch.stop();
  assert.equal(fs.readdirSync('.').filter((f) => f.endsWith('.rdb')).length, cwdBefore, 'no dump.rdb in the working folder');
});
