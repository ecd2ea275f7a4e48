/**
 * The dead-peer bound (RFC 9000 §10.1.2, RFC 9002 §6.2): a peer that stops acknowledging is
 * declared dead within seconds, long before the idle timeout, and loss with reordering never
 * makes a live peer look dead.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { ErrorCode } from '@hopgate/errors';
import {
  type Connection,
  type ConnectionCloseError,
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  DEFAULT_SERVER_KEEPALIVE_INTERVAL_MS,
  MAX_DEAD_PEER_MS,
  MIN_DEAD_PEER_MS,
  TransportErrorCode,
  type TransportStream,
} from '../src/index.js';
import { DeadPeerDetector } from '../src/dead-peer-detector.js';
import { RttEstimator } from '../src/rtt-estimator.js';
import { waitFor } from '@hopgate/testkit';
import { connectPair, type Pair, TEST_TIMEOUT_MS } from '../test-support/helpers.js';

let pair: Pair | undefined;
afterEach(() => pair?.close());

/** Slack for timers on a busy 2-core machine, in ms: generous in time, the behaviour stays strict. */
const TIMER_SLACK_MS = 1_500;

/** How long before the cut the last ACK may have come (a few loopback RTTs), in ms. */
const CUT_SKEW_MS = 100;

function closeOf(connection: Connection): Promise<{ err: ConnectionCloseError; at: number }> {
  return new Promise((resolve) => connection.once('close', (err) => resolve({ err, at: performance.now() })));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An echo server: every chunk a server stream receives goes back on it. */
function echo(server: Connection): void {
  server.on('stream', (stream: TransportStream) => {
    stream.on('error', () => undefined);
    stream.on('data', (chunk: Buffer) => stream.write(chunk));
  });
}

test('the bound follows the measured RTT: at least MIN_DEAD_PEER_MS, 15 x (srtt + 4 rttvar), at most MAX_DEAD_PEER_MS', () => {
  const loopback = new RttEstimator();
  loopback.update(0.2, 0);
  assert.equal(new DeadPeerDetector(loopback).bound(), MIN_DEAD_PEER_MS);
  const wan = new RttEstimator();
  wan.update(50, 0); // srtt 50, rttvar 25: 15 x 150
  assert.equal(new DeadPeerDetector(wan).bound(), 2_250);
  const far = new RttEstimator();
  far.update(400, 0);
  assert.equal(new DeadPeerDetector(far).bound(), MAX_DEAD_PEER_MS);
});

test('the detector waits only while something is outstanding and restarts at every acknowledgement', () => {
  const detector = new DeadPeerDetector(new RttEstimator());
  assert.equal(detector.deadline(true), Infinity, 'nothing sent yet');
  detector.onAckElicitingSent(100);
  detector.onAckElicitingSent(150);
  assert.equal(detector.deadline(true), 100 + detector.bound(), 'the clock starts at the first unacknowledged packet');
  assert.equal(detector.deadline(false), Infinity, 'nothing outstanding: no deadline');
  detector.onAcknowledged(400, true);
  assert.equal(detector.deadline(true), 400 + detector.bound());
  detector.onAcknowledged(500, false);
  assert.equal(detector.deadline(true), Infinity);
  detector.onAckElicitingSent(900);
  assert.equal(detector.deadline(true), 900 + detector.bound());
});

for (const side of ['client', 'server'] as const) {
  test(`an idle peer that goes silent is declared dead by the keepalive within KEEPALIVE + bound (${side} side)`, { timeout: TEST_TIMEOUT_MS }, async () => {
    // Only the side under test detects: a memory link closed by one end closes both.
    const detecting = {};
    const other = { deadPeerDetection: false };
    pair = connectPair({ delayMs: 1, seed: side === 'client' ? 71 : 75 }, side === 'client' ? detecting : other, side === 'client' ? other : detecting);
    const { client, server, clientLink, serverLink } = pair;
    echo(server);
    const stream = client.openStream();
    stream.on('error', () => undefined);
    stream.write('hello');
    await new Promise((resolve) => stream.once('data', resolve));
    await waitFor('RTT samples on both sides', () => client.stats().latestRttMs > 0 && server.stats().latestRttMs > 0, 5_000, 5);
    const detector = side === 'client' ? client : server;
    const closed = closeOf(detector);
    // The path dies both ways (a process killed on another machine: no ICMP).
    clientLink.configure({ lossRate: 1 });
    serverLink.configure({ lossRate: 1 });
    const cutAt = performance.now();
    const { err, at } = await closed;
    const elapsed = at - cutAt;
    assert.equal(err.code, ErrorCode.Closed, err.message);
    assert.equal(err.closeCode, TransportErrorCode.PeerUnresponsive, err.message);
    assert.equal(err.remote, false);
    const waited = /^peer stopped answering: no acknowledgement for (\d+) ms \(bound (\d+) ms\)$/.exec(err.reason);
    assert.ok(waited, err.reason);
    assert.ok(Number(waited[2]) >= MIN_DEAD_PEER_MS && Number(waited[2]) <= MAX_DEAD_PEER_MS, err.reason);
    assert.ok(Number(waited[1]) >= Number(waited[2]), `declared dead before the bound: ${err.reason}`);
    // The wait may have started a moment before the cut (a PING or an echo not yet acknowledged).
    assert.ok(elapsed >= MIN_DEAD_PEER_MS - CUT_SKEW_MS, `declared the peer dead ${elapsed} ms after the cut, before the bound`);
    const keepAlive = side === 'client' ? DEFAULT_KEEPALIVE_INTERVAL_MS : DEFAULT_SERVER_KEEPALIVE_INTERVAL_MS;
    assert.ok(elapsed < keepAlive + Number(waited[2]) + TIMER_SLACK_MS, `took ${elapsed} ms: ${err.reason}`);
  });
}

test('a peer that stops acknowledging data in flight is declared dead within the bound; streams end with ERR_CLOSED', { timeout: TEST_TIMEOUT_MS }, async () => {
  // No keepalive: only the outstanding data arms the detector.
  // The server does not judge (its echo would go unacknowledged too, and a memory link closed
  // by one end closes both).
  pair = connectPair({ delayMs: 1, seed: 72 }, { keepAliveIntervalMs: 0 }, { keepAliveIntervalMs: 0, deadPeerDetection: false });
  const { client, server, serverLink } = pair;
  echo(server);
  const stream = client.openStream();
  stream.write('first');
  await new Promise((resolve) => stream.once('data', resolve));
  await waitFor('an RTT sample', () => client.stats().latestRttMs > 0, 5_000, 5);
  const streamError = new Promise<Error>((resolve) => stream.once('error', resolve));
  const closed = closeOf(client);
  serverLink.configure({ lossRate: 1 }); // the server receives but no ACK comes back
  const cutAt = performance.now();
  stream.write(Buffer.alloc(4096, 1));
  const { err, at } = await closed;
  const elapsed = at - cutAt;
  assert.equal(err.closeCode, TransportErrorCode.PeerUnresponsive, err.message);
  assert.ok(elapsed >= MIN_DEAD_PEER_MS - CUT_SKEW_MS && elapsed < MAX_DEAD_PEER_MS + TIMER_SLACK_MS, `declared dead after ${elapsed} ms: ${err.reason}`);
  assert.equal(((await streamError) as ConnectionCloseError).code, ErrorCode.Closed);
  assert.equal(client.streamCount, 0);
});

test('an idle timeout shorter than keepalive + bound, reached while a PING awaits its ACK, is a dead peer too (not ERR_TIMEOUT)', { timeout: TEST_TIMEOUT_MS }, async () => {
  const idleTimeoutMs = 900; // keepalive every 300 ms: the idle timeout comes before the 2 s bound
  pair = connectPair({ delayMs: 1, seed: 76 }, { idleTimeoutMs }, { deadPeerDetection: false, keepAliveIntervalMs: 0 });
  const { client, server, serverLink } = pair;
  echo(server);
  const stream = client.openStream();
  stream.on('error', () => undefined);
  stream.write('hello');
  await new Promise((resolve) => stream.once('data', resolve));
  const closed = closeOf(client);
  serverLink.configure({ lossRate: 1 });
  const cutAt = performance.now();
  const { err, at } = await closed;
  assert.equal(err.code, ErrorCode.Closed, err.message);
  assert.equal(err.closeCode, TransportErrorCode.PeerUnresponsive);
  assert.match(err.reason, /^peer stopped answering: no acknowledgement for \d+ ms \(idle timeout 900 ms\)$/);
  assert.ok(at - cutAt < idleTimeoutMs + TIMER_SLACK_MS, `closed ${at - cutAt} ms after the cut`);
});

test('an idle session carries one PING and its ACK a second: the client pings, the server only acknowledges', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ delayMs: 1, seed: 77 }, { idleTimeoutMs: 15_000 }, { idleTimeoutMs: 15_000 });
  const { client, server } = pair;
  await sleep(1_500);
  /** Ack-eliciting packets sent so far (PINGs here: nothing else is sent). */
  const eliciting = (c: Connection): number => c.stats().packetsSent - c.stats().ackOnlyPacketsSent;
  const before = { client: eliciting(client), server: eliciting(server), serverAcks: server.stats().ackOnlyPacketsSent };
  const windowMs = 6_000;
  await sleep(windowMs);
  const clientPings = eliciting(client) - before.client;
  const serverPings = eliciting(server) - before.server;
  const serverAcks = server.stats().ackOnlyPacketsSent - before.serverAcks;
  // Equal keepalives on both sides lock in phase: two PINGs crossing each second, two ACKs.
  assert.ok(clientPings >= 5 && clientPings <= 9, `client sent ${clientPings} PINGs in ${windowMs} ms (probe timeouts on a busy machine add a few)`);
  assert.ok(serverPings <= 1, `server sent ${serverPings} PINGs in ${windowMs} ms`);
  assert.ok(serverAcks >= 5, `server acknowledged ${serverAcks} times`);
  assert.equal(client.closed || server.closed, false);
});

for (const lossRate of [0.05, 0.1]) {
  test(`no spurious death at ${lossRate * 100}% loss with reordering, busy and idle in turns`, { timeout: TEST_TIMEOUT_MS }, async () => {
    pair = connectPair(
      { delayMs: 2, jitterMs: 2, lossRate, reorderRate: 0.1, reorderDelayMs: 8, seed: lossRate === 0.05 ? 73 : 74 },
      {},
      {},
    );
    const { client, server, clientLink, serverLink } = pair;
    echo(server);
    const stream = client.openStream();
    stream.on('error', () => undefined);
    let echoed = 0;
    stream.on('data', (chunk: Buffer) => {
      echoed += chunk.length;
    });
    let written = 0;
    // Three rounds: a busy second (a small message every 20 ms), then a quiet stretch longer
    // than the dead-peer bound, carried only by keepalive PINGs and their ACKs.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) {
        stream.write(Buffer.alloc(200, i));
        written += 200;
        await sleep(20);
      }
      await sleep(MIN_DEAD_PEER_MS + 500);
      assert.equal(client.closed, false, `client closed in round ${round}`);
      assert.equal(server.closed, false, `server closed in round ${round}`);
    }
    assert.equal(echoed, written, 'every byte came back');
    const dropped = clientLink.stats.dropped + serverLink.stats.dropped;
    const reordered = clientLink.stats.reordered + serverLink.stats.reordered;
    assert.ok(dropped >= 10 && reordered >= 10, `the link lost ${dropped} and reordered ${reordered} datagrams`);
  });
}
