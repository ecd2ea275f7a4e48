/**
 * The hub<->agent link under datagram loss: a real UDP relay (UdpLossProxy) drops, reorders
 * and duplicates datagrams between an agent and its hub, both ways, from the DTLS handshake
 * on. Everything above it (ingress, NATS, hub, agent, origin) is the real product.
 * - 2% loss + reordering + duplication: the agent connects, 64 concurrent GETs, a
 *   WebSocket echo, 32 MiB down and 32 MiB up, all intact.
 * - 5% loss + reordering: 100 MiB down and 32 MiB up, sha256 equal.
 * Both links carry UDP payloads up to 1452 bytes, like a 1500-byte Ethernet path: path MTU
 * discovery finds that size through the loss, and its probes of larger sizes are dropped.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { Client } from 'undici';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { Stack, UdpLossProxy, type UdpImpairments } from '@hopgate/testkit';
import { startOrigin, PublicClient, type Origin } from './helpers.js';

const MIB = 1024 * 1024;
const HOST_2 = 'loss2.hopgate.test';
const HOST_5 = 'loss5.hopgate.test';
const WS_HOST = 'lossws.hopgate.test';
/** Largest UDP payload of the lossy links: a 1500-byte Ethernet MTU less IPv6 and UDP headers. */
const PATH_MAX_PAYLOAD_BYTES = 1452;
/** Impairments of each direction on the 2% link. */
const LINK_2: UdpImpairments = { lossRate: 0.02, reorderRate: 0.02, duplicateRate: 0.01, maxPayloadBytes: PATH_MAX_PAYLOAD_BYTES };
/** Impairments of each direction on the 5% link. */
const LINK_5: UdpImpairments = { lossRate: 0.05, reorderRate: 0.05, maxPayloadBytes: PATH_MAX_PAYLOAD_BYTES };
/**
 * Deadline of each test, in ms: a hang fails instead of blocking the run. The tests move
 * ~200 MiB through the full path and are CPU-bound: measured 37-106 s per test on a 2-core
 * machine shared with four other test runs (load average 14-27).
 */
const TRANSFER_TEST_TIMEOUT_MS = 180_000;
const CONCURRENT_GETS = 64;

let stack: Stack;
let origin: Origin;
let pub: PublicClient;
let wss: WebSocketServer;
let proxy2: UdpLossProxy;
let proxy5: UdpLossProxy;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-loss-'));
  stack = await Stack.start({ dir, hubs: 1, ingressEnv: { HOPGATE_RESPONSE_TIMEOUT_MS: String(TRANSFER_TEST_TIMEOUT_MS) } });
  origin = await startOrigin('lossy');
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  const target = { host: '127.0.0.1', port: stack.hubs[0]!.port };
  proxy2 = await UdpLossProxy.start({ target, upstream: LINK_2, downstream: LINK_2, seed: 2 });
  proxy5 = await UdpLossProxy.start({ target, upstream: LINK_5, downstream: LINK_5, seed: 5 });
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await stack?.stop();
  await proxy2?.close();
  await proxy5?.close();
  await origin?.close();
  await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
});

function client(host: string): Client {
  return new Client(`https://127.0.0.1:${stack.httpsPort}`, {
    connect: { ca: fs.readFileSync(stack.ca.certFile, 'utf8'), servername: host },
    headersTimeout: TRANSFER_TEST_TIMEOUT_MS,
    bodyTimeout: TRANSFER_TEST_TIMEOUT_MS,
  });
}

/** GET /bytes/<size> through the tunnel; returns the sha256 the origin announced and the one that arrived. */
async function download(host: string, size: number): Promise<{ expected: string; actual: string; length: number }> {
  const c = client(host);
  try {
    const res = await c.request({ path: `/bytes/${size}`, method: 'GET', headers: { host } });
    assert.equal(res.statusCode, 200);
    const hash = crypto.createHash('sha256');
    let length = 0;
    for await (const chunk of res.body) {
      hash.update(chunk as Buffer);
      length += (chunk as Buffer).length;
    }
    return { expected: String(res.headers['x-sha256']), actual: hash.digest('hex'), length };
  } finally {
    await c.close();
  }
}

/** POST /sha256 through the tunnel in 64 KiB chunks; returns what the origin computed. */
async function upload(host: string, data: Buffer): Promise<{ sha256: string; length: number }> {
  const c = client(host);
  try {
    const chunks = (function* () {
      for (let offset = 0; offset < data.length; offset += 64 * 1024) yield data.subarray(offset, offset + 64 * 1024);
    })();
    const res = await c.request({
      path: '/sha256',
      method: 'POST',
      headers: { host, 'content-length': String(data.length), 'content-type': 'application/octet-stream' },
      body: Readable.from(chunks),
    });
    assert.equal(res.statusCode, 200);
    return (await res.body.json()) as { sha256: string; length: number };
  } finally {
    await c.close();
  }
}

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

test('2% loss, reordering and duplication both ways: handshake, 64 concurrent GETs, WebSocket echo, 32 MiB down and up', { timeout: TRANSFER_TEST_TIMEOUT_MS }, async () => {
  const token = await stack.addClient('lossy2');
  await stack.setRoute(HOST_2, '/', 'lossy2/web');
  await stack.setRoute(WS_HOST, '/', 'lossy2/chat');
  // The DTLS handshake itself crosses the lossy link (the agent dials the proxy).
  await stack.startAgent({
    clientId: 'lossy2',
    token,
    services: { web: origin.address, chat: `127.0.0.1:${(wss.address() as AddressInfo).port}` },
    serverPort: proxy2.port,
  });

  const replies = await Promise.all(Array.from({ length: CONCURRENT_GETS }, (_, i) => pub.request(HOST_2, `/get/${i}`)));
  assert.deepEqual(
    replies.map((r) => [r.status, r.body.toString()]),
    replies.map((_, i) => [200, `lossy GET /get/${i}\n`]),
  );

  const wsOptions: ClientOptions & tls.ConnectionOptions = { headers: { host: WS_HOST }, servername: WS_HOST, ca: fs.readFileSync(stack.ca.certFile) };
  const ws = new WebSocket(`wss://127.0.0.1:${stack.httpsPort}/chat`, wsOptions);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const blob = crypto.randomBytes(256 * 1024);
  for (const message of [Buffer.from('text over a lossy link'), blob]) {
    const echoed = new Promise<Buffer>((resolve) => ws.once('message', (data: Buffer) => resolve(data)));
    ws.send(message, { binary: message === blob });
    assert.ok((await echoed).equals(message));
  }
  await new Promise<void>((r) => {
    ws.once('close', () => r());
    ws.close(1000);
  });

  const down = await download(HOST_2, 32 * MIB);
  assert.equal(down.length, 32 * MIB);
  assert.equal(down.actual, down.expected);
  const up = crypto.randomBytes(32 * MIB);
  assert.deepEqual(await upload(HOST_2, up), { sha256: sha256(up), length: up.length });

  // The impairments really happened on this link.
  assert.ok(proxy2.stats.dropped > 500, JSON.stringify(proxy2.stats));
  assert.ok(proxy2.stats.reordered > 500 && proxy2.stats.duplicated > 100, JSON.stringify(proxy2.stats));
  // Path MTU discovery ran: its probes above the path's size were dropped (3 per side at most before it stops).
  assert.ok(proxy2.stats.tooBig > 0, JSON.stringify(proxy2.stats));
});

test('5% loss and reordering both ways: 100 MiB down and 32 MiB up arrive intact', { timeout: TRANSFER_TEST_TIMEOUT_MS }, async () => {
  const token = await stack.addClient('lossy5');
  await stack.setRoute(HOST_5, '/', 'lossy5/web');
  await stack.startAgent({ clientId: 'lossy5', token, services: { web: origin.address }, serverPort: proxy5.port });

  const down = await download(HOST_5, 100 * MIB);
  assert.equal(down.length, 100 * MIB);
  assert.equal(down.actual, down.expected);
  const up = crypto.randomBytes(32 * MIB);
  assert.deepEqual(await upload(HOST_5, up), { sha256: sha256(up), length: up.length });

  assert.ok(proxy5.stats.dropped > 4000, JSON.stringify(proxy5.stats));
  assert.ok(proxy5.stats.reordered > 4000, JSON.stringify(proxy5.stats));
  assert.ok(proxy5.stats.tooBig > 0, JSON.stringify(proxy5.stats));
});
