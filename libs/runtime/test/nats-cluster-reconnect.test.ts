import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect, type NatsConnection, type Server } from '@nats-io/transport-node';
import { ServiceSettings, natsConnectionConfig } from '@hopgate/config';
import { NatsCluster, startNats, waitFor } from '@hopgate/testkit';
import { awayFromLastDialed, connectNats, natsConnectOptions, NATS_CONNECT_TIMEOUT_MS, NATS_MAX_PINGS_OUT, NATS_PING_INTERVAL_MS, NATS_RECONNECT_TIME_WAIT_MS } from '../src/index.js';

/** Bound on a move to a live node after the node in use died, in ms (well under issue 10's 2 s, above NATS_RECONNECT_TIME_WAIT_MS plus jitter). */
const MOVE_BOUND_MS = 1_000;

/** The node `nc` is connected to, once it is connected to a running one. */
async function nodeOf(cluster: NatsCluster, nc: NatsConnection): Promise<number> {
  const found = await waitFor('connected to a running node', () => {
    const port = nc.info?.port;
    const node = cluster.nodes.find((n) => n.port === port && cluster.running(n.index));
    return node && !nc.isClosed() ? { index: node.index } : undefined;
  }, 10_000, 5);
  return found.index;
}

/** Kills the node `nc` is on and resolves with the time until it is connected to another one, in ms. */
async function killAndTimeMove(cluster: NatsCluster, nc: NatsConnection): Promise<{ from: number; to: number; ms: number }> {
  const from = await nodeOf(cluster, nc);
  const reconnected = (async () => {
    for await (const status of nc.status()) if (status.type === 'reconnect') return performance.now();
    return Infinity;
  })();
  const killedAt = performance.now();
  await cluster.kill9(from);
  let timer: NodeJS.Timeout | undefined;
  const at = await Promise.race([reconnected, new Promise<number>((r) => (timer = setTimeout(() => r(Infinity), 10_000)))]);
  clearTimeout(timer);
  return { from, to: await nodeOf(cluster, nc), ms: Math.round(at - killedAt) };
}

test('a 3-node cluster: losing the node in use, then the next one within seconds, moves to a live node at once each time', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-nats-reconnect-'));
  const cluster = await NatsCluster.start({ dir });
  const nc = await connectNats(natsConnectionConfig(new ServiceSettings({ HOPGATE_NATS_URL: cluster.urlList() })), { name: 'reconnect-probe', service: 'ingress' });
  try {
    const first = await killAndTimeMove(cluster, nc);
    // The node just joined is lost too, well within nats.js's default 2 s re-dial wait.
    const second = await killAndTimeMove(cluster, nc);
    console.log(`# moved ${first.from}->${first.to} in ${first.ms} ms, then ${second.from}->${second.to} in ${second.ms} ms (re-dial wait ${NATS_RECONNECT_TIME_WAIT_MS} ms)`);
    assert.notEqual(first.to, first.from);
    assert.ok(first.ms <= MOVE_BOUND_MS, `first move took ${first.ms} ms`);
    assert.ok(![first.from, second.from].includes(second.to));
    assert.ok(second.ms <= MOVE_BOUND_MS, `second move took ${second.ms} ms`);
  } finally {
    await nc.close();
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a server that closes the connection in the middle of the handshake is left at once, not after the connect timeout (patched nats.js)', async () => {
  // Sends its INFO like a nats-server, then dies when the client answers with CONNECT (before PONG).
  const dying = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.write('INFO {"server_id":"dying","version":"2.9.10","proto":1,"headers":true,"max_payload":1048576}\r\n');
    socket.once('data', () => socket.destroy());
  });
  await new Promise<void>((r) => dying.listen(0, '127.0.0.1', () => r()));
  const live = await startNats();
  const port = (dying.address() as net.AddressInfo).port;
  const config = natsConnectionConfig(new ServiceSettings({ HOPGATE_NATS_URL: `nats://127.0.0.1:${port},${live.url}` }));
  // The dying server first, always (HopGate's services let nats.js shuffle the list).
  const started = performance.now();
  const nc = await connect({ ...natsConnectOptions(config, { name: 'handshake-probe', service: 'ingress' }), noRandomize: true });
  const ms = Math.round(performance.now() - started);
  try {
    console.log(`# connected to the live server ${ms} ms after the dying one closed (connect timeout ${NATS_CONNECT_TIMEOUT_MS} ms)`);
    assert.equal(nc.info?.port, live.port);
    assert.ok(ms < NATS_CONNECT_TIMEOUT_MS / 2, `took ${ms} ms`);
  } finally {
    await nc.close();
    await live.stop();
    dying.close();
  }
});

test('a node that hangs (SIGSTOP: connections open, nothing answers) is left after the unanswered PINGs, and not dialed again first', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-nats-frozen-'));
  const cluster = await NatsCluster.start({ dir });
  const config = natsConnectionConfig(new ServiceSettings({ HOPGATE_NATS_URL: cluster.urlList(0) }));
  // In list order (HopGate's services let nats.js shuffle): node 0 first, so it is the head of the pool.
  const nc = await connect({ ...natsConnectOptions(config, { name: 'frozen-probe', service: 'ingress' }), noRandomize: true });
  try {
    assert.equal(nc.info?.port, cluster.node(0).port);
    const times: Record<string, number> = {};
    const watching = (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect' || status.type === 'reconnect') times[status.type] ??= performance.now();
        if (status.type === 'reconnect') return;
      }
    })();
    const frozenAt = performance.now();
    cluster.freeze(0);
    const staleBoundMs = NATS_PING_INTERVAL_MS * (NATS_MAX_PINGS_OUT + 1) + 1_000;
    await waitFor('reconnected elsewhere', () => times['reconnect'], staleBoundMs + NATS_CONNECT_TIMEOUT_MS + 2_000, 20);
    await watching;
    const staleMs = Math.round(times['disconnect']! - frozenAt);
    const moveMs = Math.round(times['reconnect']! - times['disconnect']!);
    console.log(`# frozen node left after ${staleMs} ms; on node port ${nc.info?.port} ${moveMs} ms later`);
    assert.ok(staleMs <= staleBoundMs, `stale after ${staleMs} ms`);
    assert.notEqual(nc.info?.port, cluster.node(0).port);
    // Not the frozen node first (that dial would hang for NATS_CONNECT_TIMEOUT_MS).
    assert.ok(moveMs < NATS_CONNECT_TIMEOUT_MS / 2, `moved ${moveMs} ms after the disconnect`);
  } finally {
    cluster.thaw(0);
    await nc.close();
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('awayFromLastDialed: the server dialed longest ago instead of a head dialed last; otherwise the default', () => {
  const server = (listen: string, lastConnect: number): Server => ({ hostname: '127.0.0.1', port: 0, listen, src: listen, tlsName: '', reconnects: 0, lastConnect, gossiped: false, didConnect: lastConnect > 0 });
  const a = server('a:1', 300);
  const b = server('b:1', 100);
  const c = server('c:1', 200);
  assert.equal(awayFromLastDialed([a, b, c], null), b, 'head dialed last: the oldest other');
  assert.equal(awayFromLastDialed([b, a, c], null), null, 'head not dialed last: default');
  assert.equal(awayFromLastDialed([a], null), null, 'one server: default');
  assert.equal(awayFromLastDialed([server('x:1', 0), server('y:1', 0)], null), null, 'nothing dialed yet (first connect): default');
  assert.equal(awayFromLastDialed([server('x:1', 5), server('y:1', 5)], null), null, 'a tie is not "dialed last"');
});

test('pendingLimitBytes becomes nats.js\'s pendingLimit; unset, nats.js keeps its default', () => {
  const config = natsConnectionConfig(new ServiceSettings({ HOPGATE_NATS_URL: 'nats://127.0.0.1:4222' }));
  assert.equal((natsConnectOptions(config, { name: 'n', service: 'hub', pendingLimitBytes: 262_144 }) as { pendingLimit?: number }).pendingLimit, 262_144);
  assert.equal('pendingLimit' in natsConnectOptions(config, { name: 'n', service: 'hub' }), false);
});
