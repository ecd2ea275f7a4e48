import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { UdpLossProxy } from '../src/udp-loss-proxy.js';

/** An echo server on loopback UDP: each datagram goes back to its sender. */
async function echoServer(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

/** Datagrams sent before waiting for their echoes: small enough that no socket buffer overflows. */
const WINDOW_DATAGRAMS = 16;
/** Longest wait for a window's echoes, in ms (lost ones never come back; late ones still count). */
const WINDOW_WAIT_MS = 30;
/** Wait for stragglers after the last window, in ms. */
const SETTLE_MS = 500;

/**
 * Sends `count` numbered datagrams through the proxy to the echo server, a window at a time
 * (the kernel itself drops UDP when a receive buffer overflows on a loaded host; pacing keeps
 * every drop the proxy's own), and returns the numbers echoed back in arrival order.
 */
async function roundTrip(proxyPort: number, count: number): Promise<number[]> {
  const client = dgram.createSocket('udp4');
  const got: number[] = [];
  let wake: (() => void) | null = null;
  client.on('message', (m) => {
    got.push(m.readUInt32BE(0));
    wake?.();
  });
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  for (let start = 0; start < count; start += WINDOW_DATAGRAMS) {
    const end = Math.min(count, start + WINDOW_DATAGRAMS);
    const before = got.length;
    for (let i = start; i < end; i++) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(i);
      client.send(b, proxyPort, '127.0.0.1');
    }
    const deadline = Date.now() + WINDOW_WAIT_MS;
    while (got.length - before < end - start && Date.now() < deadline) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 5);
      });
    }
  }
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  client.close();
  return got;
}

test('udp loss proxy: lossless passes every datagram both ways', async () => {
  const echo = await echoServer();
  const proxy = await UdpLossProxy.start({ target: { host: '127.0.0.1', port: (echo.address() as AddressInfo).port } });
  try {
    const got = await roundTrip(proxy.port, 500);
    assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: 500 }, (_, i) => i));
    assert.equal(proxy.stats.dropped, 0);
  } finally {
    await proxy.close();
    echo.close();
  }
});

test('udp loss proxy: drops, reorders and duplicates at the configured rates', async () => {
  const echo = await echoServer();
  const proxy = await UdpLossProxy.start({
    target: { host: '127.0.0.1', port: (echo.address() as AddressInfo).port },
    upstream: { lossRate: 0.1, reorderRate: 0.1, duplicateRate: 0.05 },
    seed: 7,
  });
  try {
    const got = await roundTrip(proxy.port, 2000);
    const unique = new Set(got);
    // ~10% lost: between 5% and 15% of 2000 with this seed and count.
    assert.ok(unique.size > 1700 && unique.size < 1900, `unique ${unique.size}`);
    assert.ok(got.length > unique.size, 'some datagrams arrived twice');
    const inversions = got.filter((v, i) => i > 0 && v < (got[i - 1] as number)).length;
    assert.ok(inversions > 0, 'some datagrams were overtaken');
    assert.equal(proxy.stats.dropped, 2000 - unique.size);
  } finally {
    await proxy.close();
    echo.close();
  }
});

test('retarget: flows that start afterwards go to the new target; a running flow stays where it started', async () => {
  const first = await echoServer();
  const second = await echoServer();
  const seenBy = new Map<dgram.Socket, number>([[first, 0], [second, 0]]);
  for (const s of [first, second]) s.on('message', () => seenBy.set(s, seenBy.get(s)! + 1));
  const proxy = await UdpLossProxy.start({ target: { host: '127.0.0.1', port: (first.address() as AddressInfo).port } });
  const client = (): Promise<dgram.Socket> =>
    new Promise((resolve) => {
      const c = dgram.createSocket('udp4');
      c.bind(0, '127.0.0.1', () => resolve(c));
    });
  const echo = (c: dgram.Socket): Promise<void> =>
    new Promise((resolve) => {
      c.once('message', () => resolve());
      c.send(Buffer.from('x'), proxy.port, '127.0.0.1');
    });
  const old = await client();
  try {
    await echo(old);
    proxy.retarget({ host: '127.0.0.1', port: (second.address() as AddressInfo).port });
    const fresh = await client();
    await echo(fresh);
    await echo(old);
    assert.equal(seenBy.get(first), 2, 'the running flow kept its target');
    assert.equal(seenBy.get(second), 1, 'the new flow went to the new target');
    fresh.close();
  } finally {
    old.close();
    await proxy.close();
    first.close();
    second.close();
  }
});

test('udp loss proxy: delayMs holds each direction back by its delay and keeps the order', async () => {
  const echo = await echoServer();
  const oneWayMs = 15;
  const proxy = await UdpLossProxy.start({
    target: { host: '127.0.0.1', port: (echo.address() as AddressInfo).port },
    upstream: { delayMs: oneWayMs },
    downstream: { delayMs: oneWayMs },
  });
  const client = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const count = 50;
    const got: number[] = [];
    const rtts: number[] = [];
    const sentAt: number[] = [];
    const done = new Promise<void>((resolve) => {
      client.on('message', (m) => {
        const n = m.readUInt32BE(0);
        rtts.push(performance.now() - sentAt[n]!);
        got.push(n);
        if (got.length === count) resolve();
      });
    });
    for (let i = 0; i < count; i++) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(i);
      sentAt[i] = performance.now();
      client.send(b, proxy.port, '127.0.0.1');
    }
    await done;
    assert.deepEqual(got, Array.from({ length: count }, (_, i) => i), 'a fixed delay keeps FIFO order');
    // Timers never fire early; 1 ms of slack for timer rounding.
    assert.ok(Math.min(...rtts) >= 2 * oneWayMs - 1, `round trip ${Math.min(...rtts).toFixed(1)} ms is below twice the one-way delay`);
    assert.equal(proxy.stats.forwarded, 2 * count);
  } finally {
    client.close();
    await proxy.close();
    echo.close();
  }
});
