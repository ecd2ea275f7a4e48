import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { TcpBalancer, NatsCluster, freeTcpPort, waitFor } from '../src/index.js';

/** A backend that writes its name to each connection and closes it. */
async function namedBackend(name: string): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer((s) => s.end(name));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, server };
}

function readAll(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => (got += d));
    s.once('close', () => resolve(got));
    s.once('error', reject);
  });
}

test('TcpBalancer: round-robin over the backends, skipping one that refuses', async () => {
  const a = await namedBackend('a');
  const b = await namedBackend('b');
  const refusing = await freeTcpPort(); // nothing listens there
  const balancer = new TcpBalancer([a.port, refusing, b.port]);
  await balancer.listen();
  try {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(await readAll(balancer.port));
    // a, (refused -> b), b, a, (refused -> b), b
    assert.deepEqual(seen, ['a', 'b', 'b', 'a', 'b', 'b']);
    assert.deepEqual([...balancer.stats.forwarded.entries()].sort(), [[a.port, 2], [b.port, 4]].sort());
    assert.equal(balancer.stats.refusedAttempts, 2);
    assert.equal(balancer.stats.unplaced, 0);
  } finally {
    await balancer.close();
    a.server.close();
    b.server.close();
  }
});

test('TcpBalancer: a client is dropped when every backend refuses', async () => {
  const balancer = new TcpBalancer([await freeTcpPort()]);
  await balancer.listen();
  try {
    assert.equal(await readAll(balancer.port), '');
    assert.equal(balancer.stats.unplaced, 1);
  } finally {
    await balancer.close();
  }
});

test('NatsCluster: three routed nodes; a killed node restarts and re-joins; /connz names clients', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-natscluster-'));
  const cluster = await NatsCluster.start({ dir });
  try {
    for (let i = 0; i < 3; i++) assert.equal(await cluster.routeCount(i), 2);
    assert.equal(cluster.urlList(1).split(',')[0], cluster.url(1));
    await cluster.kill9(0);
    assert.equal(cluster.running(0), false);
    await waitFor('routes to the dead node gone', async () => (await cluster.routeCount(1)) === 1, 10_000);
    await cluster.restart(0);
    await waitFor('every node routed again', async () => {
      const counts = await Promise.all([0, 1, 2].map((i) => cluster.routeCount(i)));
      return counts.every((c) => c === 2);
    }, 10_000);
    // A raw client with a name shows in /connz of the node it dialed.
    const sock = net.connect(cluster.node(2).port, '127.0.0.1');
    sock.on('data', () => undefined);
    sock.write('CONNECT {"verbose":false,"name":"probe-client"}\r\nPING\r\n');
    assert.equal(await waitFor('probe in /connz', () => cluster.nodeOf('probe-client'), 5_000), 2);
    sock.destroy();
  } finally {
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
