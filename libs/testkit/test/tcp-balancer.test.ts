import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TcpBalancer, freeTcpPort } from '../src/index.js';

/** A backend that writes its name on every connection, then closes it. */
async function namedBackend(name: string): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer((socket) => socket.end(name));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { port: (server.address() as net.AddressInfo).port, server };
}

function readOnce(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

test('TcpBalancer: round robin over the backends, a refusing backend skipped, no backend: the client closed', async () => {
  const a = await namedBackend('a');
  const b = await namedBackend('b');
  const dead = await freeTcpPort(); // nothing listens: connections are refused
  const balancer = new TcpBalancer([a.port, dead, b.port]);
  const port = await balancer.listen();
  try {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(await readOnce(port));
    // a, (dead -> b), b, a, (dead -> b), b
    assert.deepEqual(seen, ['a', 'b', 'b', 'a', 'b', 'b']);
    assert.equal(balancer.stats.refusedAttempts, 2);
    assert.equal(balancer.stats.forwarded.get(a.port), 2);
    assert.equal(balancer.stats.forwarded.get(b.port), 4);
    balancer.setBackends([dead]);
    assert.equal(await readOnce(port), '');
    assert.equal(balancer.stats.unplaced, 1);
  } finally {
    await balancer.close();
    a.server.close();
    b.server.close();
  }
});
