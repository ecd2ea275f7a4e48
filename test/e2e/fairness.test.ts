/**
 * Tenant fairness under a stream flood: one client address keeps thousands of HTTP/2 streams
 * open to a route of client A, over many connections, at the ingress's default limits. The
 * hub's per-agent cap (HOPGATE_MAX_STREAMS_PER_AGENT) holds A to its cap and answers the
 * excess 503 + Retry-After at once; client B, with its own agent and cap, is served all along.
 * The hub counts its refusals in one warn line per interval instead of writing one per request.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { Stack, waitFor } from '@hopgate/testkit';
import { startEdgeOrigin, h2Connect, h2Request, ANSWER_TIMEOUT_MS, type EdgeOrigin } from './edge-helpers.js';

const HOST_A = 'fair-a.hopgate.test';
const HOST_B = 'fair-b.hopgate.test';
/** HOPGATE_MAX_STREAMS_PER_AGENT of the hub (each agent has its own). */
const CAP = 8;
/** Connections of the flood, all from 127.0.0.1. */
const FLOOD_CONNECTIONS = 16;
/** Streams the flood keeps open per connection: the ingress's default HOPGATE_H2_MAX_CONCURRENT_STREAMS. */
const FLOOD_STREAMS_PER_CONNECTION = 128;
/** The flood is in full swing once this many of its streams were refused. */
const FLOOD_WARMUP_REFUSALS = 1_000;
/** Requests client B's user makes during the flood, one after the other. */
const B_REQUESTS = 20;
/** B's address: another user. */
const B_ADDRESS = '127.0.0.5';
/** Each of B's requests is answered within this during the flood, in ms (the ingress's response timeout is 60 s). */
const B_LATENCY_BOUND_MS = 10_000;
/** The hub's BUSY_REFUSAL_LOG_INTERVAL_MS: while an agent is full, one refusal line per this many ms. */
const BUSY_REFUSAL_LOG_INTERVAL_MS = 10_000;
/** Per test, in ms. */
const TEST_TIMEOUT_MS = 180_000;

let stack: Stack;
let originA: EdgeOrigin;
let originB: EdgeOrigin;

before(async () => {
  originA = await startEdgeOrigin();
  originB = await startEdgeOrigin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-fairness-'));
  // warn: the access log of thousands of refusals would cost more than the requests.
  stack = await Stack.start({ dir, hubs: 1, hubEnv: { HOPGATE_MAX_STREAMS_PER_AGENT: String(CAP) }, ingressLogLevel: 'warn' });
  const tokenA = await stack.addClient('tenant-a');
  const tokenB = await stack.addClient('tenant-b');
  await stack.setRoute(HOST_A, '/', 'tenant-a/web');
  await stack.setRoute(HOST_B, '/', 'tenant-b/web');
  await stack.startAgent({ clientId: 'tenant-a', token: tokenA, services: { web: originA.address } });
  await stack.startAgent({ clientId: 'tenant-b', token: tokenB, services: { web: originB.address } });
});

after(async () => {
  await stack?.stop();
  await originA?.close();
  await originB?.close();
});

interface Flood {
  opened: number;
  /** Status of every answered flood stream, by status. */
  statuses: Map<number, number>;
  /** Refusals without `retry-after: 1`. */
  refusalsWithoutRetryAfter: number;
  /** Streams that failed without an answer (while flooding). */
  errors: number;
  stop(): void;
}

/** Keeps FLOOD_STREAMS_PER_CONNECTION streams open on each session: a refused one is replaced at once. */
function flood(sessions: http2.ClientHttp2Session[]): Flood {
  const state: Flood = { opened: 0, statuses: new Map(), refusalsWithoutRetryAfter: 0, errors: 0, stop: () => (flooding = false) };
  let flooding = true;
  const open = (session: http2.ClientHttp2Session): void => {
    if (!flooding || session.closed || session.destroyed) return;
    state.opened += 1;
    const req = session.request({ ':path': `/hold?flood=${state.opened}`, ':authority': HOST_A });
    req.on('response', (headers) => {
      const status = Number(headers[':status']);
      state.statuses.set(status, (state.statuses.get(status) ?? 0) + 1);
      if (status === 503 && headers['retry-after'] !== '1') state.refusalsWithoutRetryAfter += 1;
    });
    req.on('error', () => {
      if (flooding) state.errors += 1;
    });
    req.resume();
    req.once('end', () => open(session));
  };
  for (const session of sessions) for (let i = 0; i < FLOOD_STREAMS_PER_CONNECTION; i++) open(session);
  return state;
}

/** An HTTP/2 connection for HOST_B from B's address. */
async function connectB(): Promise<http2.ClientHttp2Session> {
  const tcp = await new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: stack.httpsPort, localAddress: B_ADDRESS }, () => resolve(socket));
    socket.once('error', reject);
  });
  const session = http2.connect(`https://127.0.0.1:${stack.httpsPort}`, {
    createConnection: () => tls.connect({ socket: tcp, ca: fs.readFileSync(stack.ca.certFile), servername: HOST_B, ALPNProtocols: ['h2'] }),
  });
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  session.on('error', () => undefined);
  return session;
}

test(`one address floods client A with ${FLOOD_CONNECTIONS} x ${FLOOD_STREAMS_PER_CONNECTION} streams: A is held to its cap of ${CAP}, the excess gets 503 + Retry-After, client B is served throughout`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const sessions = await Promise.all(Array.from({ length: FLOOD_CONNECTIONS }, () => h2Connect(stack, HOST_A)));
  const refusalsLogged = stack.hubs[0]!.process.countLogs((r) => r.msg === 'request refused: too many streams in flight to this agent');
  const floodStarted = Date.now();
  const state = flood(sessions);
  const b = await connectB();
  const latencies: number[] = [];
  const bStatuses: number[] = [];
  try {
    await waitFor('the flood in full swing', () => (state.statuses.get(503) ?? 0) >= FLOOD_WARMUP_REFUSALS, 60_000);
    for (let i = 0; i < B_REQUESTS; i++) {
      const started = Date.now();
      bStatuses.push((await h2Request(b, { ':path': `/b/${i}`, ':authority': HOST_B })).status);
      latencies.push(Date.now() - started);
    }
    // B was served while the flood went on.
    assert.ok(state.opened > FLOOD_CONNECTIONS * FLOOD_STREAMS_PER_CONNECTION, `the flood opened ${state.opened} streams`);
  } finally {
    state.stop();
    for (const session of sessions) session.destroy();
    b.destroy();
  }
  const floodMs = Date.now() - floodStarted;
  assert.deepEqual(bStatuses, Array.from({ length: B_REQUESTS }, () => 200));
  assert.ok(Math.max(...latencies) < B_LATENCY_BOUND_MS, `B's latencies during the flood: ${latencies.join(', ')} ms`);
  assert.equal(originB.seen.filter((r) => r.url.startsWith('/b/')).length, B_REQUESTS);
  // A: at most its cap reached the origin; everything else was refused by the hub, with Retry-After.
  const held = originA.seen.filter((r) => r.url.startsWith('/hold?flood=')).length;
  assert.ok(held >= 1 && held <= CAP, `${held} flood requests reached client A's origin`);
  assert.deepEqual([...state.statuses.keys()], [503], `flood answers: ${JSON.stringify([...state.statuses])}`);
  assert.equal(state.refusalsWithoutRetryAfter, 0);
  assert.equal(state.errors, 0, 'no flood stream failed without an answer');
  const refused = state.statuses.get(503) ?? 0;
  const hubLines = stack.hubs[0]!.process.countLogs((r) => r.msg === 'request refused: too many streams in flight to this agent') - refusalsLogged;
  process.stdout.write(`# flood: ${state.opened} streams in ${floodMs} ms, ${refused} refused (503), ${held} held; B latencies ${latencies.join(',')} ms; hub refusal lines ${hubLines}\n`);
  // The refusals are counted in a line per interval, not written one by one.
  assert.ok(hubLines >= 1 && hubLines <= Math.ceil(floodMs / BUSY_REFUSAL_LOG_INTERVAL_MS) + 1, `${hubLines} hub refusal lines for ${refused} refusals in ${floodMs} ms`);
  // The flood gone, its held streams are cancelled on every hop and A's slots come back.
  await waitFor('client A served again', async () => {
    const session = await h2Connect(stack, HOST_A);
    try {
      return (await h2Request(session, { ':path': '/after-flood', ':authority': HOST_A })).status === 200;
    } finally {
      session.destroy();
    }
  }, ANSWER_TIMEOUT_MS);
});
