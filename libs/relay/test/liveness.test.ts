import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, HopError } from '@hopgate/errors';
import { NatsSubjects } from '@hopgate/keys';
import { waitFor } from '@hopgate/testkit';
import {
  decodeFrame,
  encodeFrame,
  FrameType,
  RelayClient,
  RelayServerStream,
  type PingFrame,
} from '../src/index.js';
import { FakeHub } from './fake-hub.js';
import { NatsFixture, relayPair, drain, errorOf, text, KIB } from './helpers.js';

const TEST_TIMEOUT_MS = 30_000;
/** Small probe interval and timeout for tests (defaults are 2 s). */
const PROBE_MS = 100;
const probes = { peerProbeIntervalMs: PROBE_MS, peerProbeTimeoutMs: PROBE_MS };
/** "Within a few probe intervals": far below the 5 min idle timeout that used to be the only way out. */
const GONE_WITHIN_MS = 20 * PROBE_MS;

const nats = new NatsFixture();
before(() => nats.start());
after(() => nats.stop());

/** Counts the PING frames published on some subjects, from a connection of its own. */
async function pingCounter(nc: NatsConnection, subjects: string[]): Promise<{ pings: Map<string, PingFrame[]>; reset(): void; stop(): void }> {
  const pings = new Map<string, PingFrame[]>(subjects.map((s) => [s, []]));
  const subs = subjects.map((subject) =>
    nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const frame = decodeFrame(msg.data);
          if (frame.type === FrameType.Ping) pings.get(subject)?.push(frame);
        } catch {
          // not a frame: not counted
        }
      },
    }),
  );
  await nc.flush();
  return {
    pings,
    reset: () => {
      for (const list of pings.values()) list.length = 0;
    },
    stop: () => {
      for (const sub of subs) sub.unsubscribe();
    },
  };
}

test('a dead hub (its NATS connection gone mid-response): the ingress stream fails ERR_CLIENT_OFFLINE and is freed', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats, { client: { ...probes }, server: { ...probes } });
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('GET /download'));
  stream.end();
  const [hubStream] = await opened;
  const hubError = errorOf(hubStream);
  hubStream.respond(text('200'));
  hubStream.write(Buffer.alloc(KIB, 1)); // part of the body, then the hub "dies"
  await once(stream, 'response');
  await waitFor('first body bytes at the ingress', () => stream.flowStats().receivedBytes === KIB);
  stream.resume();
  const ingressError = errorOf(stream);

  const diedAt = performance.now();
  await pair.ncHub.close(); // as SIGKILL: the hub's subscription goes, the relay never says goodbye
  await waitFor('the ingress to free the stream', () => pair.client.streamCount === 0, GONE_WITHIN_MS);
  assert.ok(performance.now() - diedAt < GONE_WITHIN_MS, `took ${performance.now() - diedAt} ms`);
  const err = await ingressError;
  assert.ok(err instanceof HopError);
  assert.equal(err.code, ErrorCode.ClientOffline);
  // The hub side (its connection closed under it) frees its stream too.
  assert.equal((await hubError).code, ErrorCode.Closed);
  await waitFor('the hub to free the stream', () => pair.server.streamCount === 0, GONE_WITHIN_MS);
  await pair.close();
});

test('a dead ingress (its NATS connection gone mid-request): the hub stream fails ERR_CLOSED and is freed', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats, { client: { ...probes }, server: { ...probes } });
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('POST /upload'));
  stream.on('error', () => undefined);
  const [hubStream] = await opened;
  const hubError = errorOf(hubStream);
  const hubClosed = new Promise((resolve) => hubStream.once('close', resolve)); // (events.once would reject on 'error')
  hubStream.accept();
  stream.write(Buffer.alloc(KIB, 2)); // part of the request body; the rest never comes
  hubStream.resume();
  await waitFor('first body bytes at the hub', () => hubStream.flowStats().receivedBytes === KIB);

  const diedAt = performance.now();
  await pair.ncIngress.close();
  await waitFor('the hub to free the stream', () => pair.server.streamCount === 0, GONE_WITHIN_MS);
  assert.ok(performance.now() - diedAt < GONE_WITHIN_MS, `took ${performance.now() - diedAt} ms`);
  const err = await hubError;
  assert.ok(err instanceof HopError);
  assert.equal(err.code, ErrorCode.Closed);
  await hubClosed; // what makes dtls-hub cancel the agent stream
  await waitFor('the ingress to free the stream', () => pair.client.streamCount === 0, GONE_WITHIN_MS);
  await pair.close();
});

test('probes: none without streams, one per peer (not per stream) while streams are open, none after', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats, { client: { ...probes }, server: { ...probes } });
  const hubSubject = pair.subjects.hub('hub-1');
  const ingressSubject = pair.subjects.ingress('ing-1');
  const observer = await nats.connect();
  const counter = await pingCounter(observer, [hubSubject, ingressSubject]);
  const count = (subject: string): number => counter.pings.get(subject)?.length ?? 0;

  // No streams: no probes. (A quiet period has no condition to poll: wait it out.)
  await delay(10 * PROBE_MS);
  assert.equal(count(hubSubject), 0);
  assert.equal(count(ingressSubject), 0);

  // 8 streams with one hub: the ingress probes the hub, the hub probes the ingress, once each per interval.
  const STREAMS = 8;
  const hubStreams: RelayServerStream[] = [];
  pair.server.on('open', (s) => {
    s.on('error', () => undefined);
    s.accept();
    hubStreams.push(s);
  });
  const streams = Array.from({ length: STREAMS }, (_, i) => {
    const s = pair.client.open('hub-1', text(`GET /${i}`));
    s.on('error', () => undefined);
    return s;
  });
  await waitFor('all streams at the hub', () => hubStreams.length === STREAMS);
  const startedAt = performance.now();
  await waitFor('10 probes each way', () => count(hubSubject) >= 10 && count(ingressSubject) >= 10);
  const elapsedMs = performance.now() - startedAt;
  const hubPings = [...(counter.pings.get(hubSubject) ?? [])];
  const ingressPings = [...(counter.pings.get(ingressSubject) ?? [])];
  // One probe per interval per peer: per-stream probing would send 8 times as many.
  const most = Math.ceil(elapsedMs / PROBE_MS) + 2;
  assert.ok(hubPings.length <= most, `${hubPings.length} PINGs to the hub in ${elapsedMs} ms`);
  assert.ok(ingressPings.length <= most, `${ingressPings.length} PINGs to the ingress in ${elapsedMs} ms`);
  // One prober per peer: one id, consecutive probe numbers.
  assert.deepEqual(new Set(hubPings.map((p) => p.streamId)), new Set(['ing-1']));
  assert.deepEqual(new Set(ingressPings.map((p) => p.streamId)), new Set(['hub-1']));
  hubPings.forEach((p, i) => assert.equal(p.seq, (hubPings[0]?.seq ?? 0) + i));

  // Every stream closed: probes stop on both sides.
  for (const s of streams) s.destroy();
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.ncIngress.flush();
  await pair.ncHub.flush();
  await observer.flush();
  counter.reset();
  await delay(10 * PROBE_MS);
  assert.equal(count(hubSubject), 0);
  assert.equal(count(ingressSubject), 0);
  counter.stop();
  await pair.close();
});

test('a slow but alive hub (no data for many probe intervals) is not reset', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats, { client: { ...probes }, server: { ...probes } });
  const observer = await nats.connect();
  const hubSubject = pair.subjects.hub('hub-1');
  const ingressSubject = pair.subjects.ingress('ing-1');
  const counter = await pingCounter(observer, [hubSubject, ingressSubject]);
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('GET /long-poll'));
  stream.end();
  const errors: Error[] = [];
  stream.on('error', (err) => errors.push(err));
  const [hubStream] = await opened;
  hubStream.on('error', (err) => errors.push(err));
  hubStream.resume(); // the (empty) request body
  hubStream.respond(text('200'));
  await once(stream, 'response');
  const body = drain(stream);

  // Well past MAX_PEER_PROBE_MISSES probes each way with no data on the stream.
  await waitFor('8 probes each way', () => (counter.pings.get(hubSubject)?.length ?? 0) >= 8 && (counter.pings.get(ingressSubject)?.length ?? 0) >= 8);
  assert.deepEqual(errors, []);
  assert.equal(pair.client.streamCount, 1);
  assert.equal(pair.server.streamCount, 1);

  hubStream.end(Buffer.from('late but fine'));
  assert.equal((await body).bytes, 'late but fine'.length);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  assert.deepEqual(errors, []);
  counter.stop();
  await pair.close();
});

/** A RelayClient alone on its subjects, for the raw-frame hub. */
async function clientWithFakeHub(options: { peerProbeMaxMisses?: number } = {}): Promise<{ client: RelayClient; hub: FakeHub }> {
  const subjects = new NatsSubjects(`tfake${process.pid}_${Math.random().toString(36).slice(2, 8)}`);
  const hub = new FakeHub(await nats.connect(), subjects.hub('hub-x'));
  await hub.ready();
  const client = new RelayClient({ nc: await nats.connect(), subjects, ingressId: 'ing-1', ...probes, ...options });
  await client.start();
  return { client, hub };
}

test('a hub that stops answering PING (subscription still there): gone after MAX_PEER_PROBE_MISSES misses', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { client, hub } = await clientWithFakeHub({ peerProbeMaxMisses: 2 });
  const stream = client.open('hub-x', text('GET /'));
  stream.end();
  const ingressError = errorOf(stream);
  await once(stream, 'response');
  await waitFor('the hub to answer a PING', () => hub.pongs >= 1);
  hub.answerPings = false; // wedged: NATS still delivers to it, it never answers
  const pingsBefore = hub.pings;
  const err = await ingressError;
  assert.equal(err.code, ErrorCode.ClientOffline);
  assert.ok(hub.pings - pingsBefore >= 2, `${hub.pings - pingsBefore} unanswered PINGs before giving up`);
  assert.equal(client.streamCount, 0);
  // The hub is told, in case it is only slow.
  await waitFor('a RESET at the hub', () => hub.resets.some((r) => r.streamId === stream.requestId && r.code === ErrorCode.ClientOffline));
  await client.close();
  hub.close();
});

test('a hub that never answers PING (older version) is only dropped on no responders, not on misses', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { client, hub } = await clientWithFakeHub();
  hub.answerPings = false;
  const stream = client.open('hub-x', text('GET /'));
  stream.end();
  const errors: Error[] = [];
  stream.on('error', (err) => errors.push(err));
  await once(stream, 'response');
  const body = drain(stream);
  await waitFor('6 unanswered PINGs', () => hub.pings >= 6);
  assert.deepEqual(errors, []);
  hub.end(stream.requestId);
  assert.equal((await body).bytes, 0);
  await waitFor('the ingress to free the stream', () => client.streamCount === 0);
  assert.deepEqual(errors, []);

  // Its subscription gone, it is dropped at once like any hub.
  const second = client.open('hub-x', text('GET /'));
  second.end();
  const secondError = errorOf(second);
  await once(second, 'response');
  hub.close();
  assert.equal((await secondError).code, ErrorCode.ClientOffline);
  await waitFor('the ingress to free the stream', () => client.streamCount === 0);
  await client.close();
});

test('a hub that restarted under the same id (new instance in PONG): its old streams fail ERR_CLIENT_OFFLINE', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { client, hub } = await clientWithFakeHub();
  const stream = client.open('hub-x', text('GET /'));
  stream.end();
  const ingressError = errorOf(stream);
  await once(stream, 'response');
  await waitFor('the hub to answer PINGs', () => hub.pongs >= 2);
  hub.instance = 'fake-instance-b';
  assert.equal((await ingressError).code, ErrorCode.ClientOffline);
  assert.equal(client.streamCount, 0);

  // A stream opened to the new instance lives on.
  const fresh = client.open('hub-x', text('GET /'));
  fresh.end();
  const errors: Error[] = [];
  fresh.on('error', (err) => errors.push(err));
  await once(fresh, 'response');
  const pongs = hub.pongs;
  await waitFor('more PINGs answered', () => hub.pongs >= pongs + 4);
  assert.deepEqual(errors, []);
  assert.equal(client.streamCount, 1);
  await client.close();
  hub.close();
});

test('nodes answer a PING request with PONG: same probe id and number, their instance id', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const ping = encodeFrame({ type: FrameType.Ping, streamId: 'operator', seq: 42 });
  for (const subject of [pair.subjects.hub('hub-1'), pair.subjects.ingress('ing-1')]) {
    const reply = decodeFrame((await pair.ncIngress.request(subject, ping, { timeout: 1_000 })).data);
    assert.equal(reply.type, FrameType.Pong);
    assert.equal(reply.streamId, 'operator');
    assert.equal(reply.seq, 42);
    assert.ok(reply.type === FrameType.Pong && /^[0-9a-f]{16}$/.test(reply.instance));
  }
  assert.equal(pair.client.droppedFrameCount + pair.server.droppedFrameCount, 0);
  // A PING published without a reply subject is garbage: dropped and counted.
  pair.ncIngress.publish(pair.subjects.hub('hub-1'), ping);
  await waitFor('the hub to drop it', () => pair.server.droppedFrameCount === 1);
  await pair.close();
});
