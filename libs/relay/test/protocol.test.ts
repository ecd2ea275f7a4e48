import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, HopError } from '@hopgate/errors';
import { waitFor } from '@hopgate/testkit';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeFrames, encodeFrame, FrameType, RELAY_VERSION, RelayServerStream, type Frame } from '../src/index.js';
import { NatsFixture, relayPair, randomSource, drain, errorOf, text, KIB, MIB } from './helpers.js';

/** A broken flow-control or reset path shows up as a hang: fail it instead. */
const TEST_TIMEOUT_MS = 30_000;

const nats = new NatsFixture();
before(() => nats.start());
after(() => nats.stop());

test('no ACCEPT within openTimeoutMs: ERR_TIMEOUT at the ingress, the hub is told and frees the stream', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats, { client: { openTimeoutMs: 200 } });
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('GET /slow-hub'));
  const [hubStream] = await opened; // the hub never accepts
  const hubError = errorOf(hubStream);
  const err = await errorOf(stream);
  assert.ok(err instanceof HopError);
  assert.equal(err.code, ErrorCode.Timeout);
  assert.equal((await hubError).code, ErrorCode.Timeout);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('a stream silent both ways for idleTimeoutMs is reset on both sides', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats, { client: { idleTimeoutMs: 250 }, server: { idleTimeoutMs: 250 } });
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('GET /long-poll'));
  const [hubStream] = await opened;
  const hubError = errorOf(hubStream);
  const ingressError = errorOf(stream);
  hubStream.accept();
  assert.equal((await ingressError).code, ErrorCode.Timeout);
  assert.equal((await hubError).code, ErrorCode.Timeout);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('a lost frame (sequence gap) resets the stream on both sides with ERR_PROTOCOL', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('POST /'));
  const [hubStream] = await opened;
  hubStream.accept();
  stream.write(Buffer.alloc(10 * KIB));
  await waitFor('hub got data', () => hubStream.flowStats().receivedBytes === 10 * KIB);
  const hubError = errorOf(hubStream);
  const ingressError = errorOf(stream);
  // Frame seq 1 arrived; seq 5 means 2..4 were lost.
  const forged = encodeFrame({ type: FrameType.Data, streamId: stream.requestId, seq: 5, payload: Buffer.alloc(10) });
  pair.ncIngress.publish(pair.subjects.hub('hub-1'), forged);
  const err = await hubError;
  assert.equal(err.code, ErrorCode.Protocol);
  assert.match(err.message, /lost frame: expected seq 2, got DATA seq 5/);
  assert.equal((await ingressError).code, ErrorCode.Protocol);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('a duplicated frame resets the stream with ERR_PROTOCOL', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  pair.server.once('open', (stream) => {
    stream.on('error', () => undefined);
    stream.respond(text('200'));
  });
  const stream = pair.client.open('hub-1', text('GET /'));
  await once(stream, 'response');
  const ingressError = errorOf(stream);
  const duplicate = encodeFrame({ type: FrameType.Response, streamId: stream.requestId, seq: 1, head: text('200') });
  pair.ncHub.publish(pair.subjects.ingress('ing-1'), duplicate);
  const err = await ingressError;
  assert.equal(err.code, ErrorCode.Protocol);
  assert.match(err.message, /duplicated frame/);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('DATA beyond the granted window is a flow-control violation (ERR_PROTOCOL)', { timeout: TEST_TIMEOUT_MS }, async () => {
  const window = 64 * KIB;
  const pair = await relayPair(nats, { client: { windowBytes: window } });
  pair.server.once('open', (stream) => {
    stream.on('error', () => undefined);
    stream.respond(text('200'));
  });
  const stream = pair.client.open('hub-1', text('GET /'));
  await once(stream, 'response');
  const ingressError = errorOf(stream);
  // ACCEPT was seq 0, RESPONSE seq 1: a DATA with seq 2 one byte larger than the window.
  const overrun = encodeFrame({ type: FrameType.Data, streamId: stream.requestId, seq: 2, payload: Buffer.alloc(window + 1) });
  pair.ncHub.publish(pair.subjects.ingress('ing-1'), overrun);
  const err = await ingressError;
  assert.equal(err.code, ErrorCode.Protocol);
  assert.match(err.message, /flow control/);
  await pair.close();
});

test('CREDIT for bytes never sent is a violation (ERR_PROTOCOL)', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  pair.server.once('open', (stream) => {
    stream.on('error', () => undefined);
    stream.respond(text('200'));
  });
  const stream = pair.client.open('hub-1', text('GET /'));
  await once(stream, 'response');
  const ingressError = errorOf(stream);
  const credit = encodeFrame({ type: FrameType.Credit, streamId: stream.requestId, seq: 2, creditBytes: MIB });
  pair.ncHub.publish(pair.subjects.ingress('ing-1'), credit);
  const err = await ingressError;
  assert.equal(err.code, ErrorCode.Protocol);
  assert.match(err.message, /more than was sent/);
  await pair.close();
});

test('garbage on the hub and ingress subjects is dropped; streams keep working', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  pair.server.on('open', (stream) => {
    stream.respond(stream.head);
    stream.pipe(stream);
  });
  // A stream in flight while the garbage arrives.
  const source = randomSource(4 * MIB);
  const stream = pair.client.open('hub-1', text('echo'));
  const echoed = drain(stream);
  const upload = pipeline(source.stream, stream);
  await once(stream, 'response');

  const badVersion = Buffer.from(encodeFrame({ type: FrameType.End, streamId: stream.requestId, seq: 9 }));
  badVersion.writeUInt8(RELAY_VERSION + 1, 2);
  const truncatedCredit = encodeFrame({ type: FrameType.Credit, streamId: stream.requestId, seq: 9, creditBytes: 5 }).subarray(0, -1);
  const truncatedOpen = encodeFrame({
    type: FrameType.Open, streamId: 'x-1', seq: 0, windowBytes: 1000, replyTo: pair.subjects.ingress('ing-1'), head: text('h'),
  }).subarray(0, 14);
  const garbage: Uint8Array[] = [
    new Uint8Array(0),
    Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    Buffer.from([0x48, 0x52]),
    Buffer.alloc(64, 0xff),
    badVersion,
    truncatedCredit,
    truncatedOpen,
  ];
  const hubSubject = pair.subjects.hub('hub-1');
  const ingressSubject = pair.subjects.ingress('ing-1');
  for (const bytes of garbage) {
    pair.ncIngress.publish(hubSubject, bytes);
    pair.ncHub.publish(ingressSubject, bytes);
  }
  // Well-formed frames that do not belong on the subject, and an OPEN published without a reply.
  pair.ncIngress.publish(hubSubject, encodeFrame({ type: FrameType.Accept, streamId: stream.requestId, seq: 1, creditBytes: 1 }));
  pair.ncIngress.publish(hubSubject, encodeFrame({
    type: FrameType.Open, streamId: 'x-2', seq: 0, windowBytes: 1000, replyTo: ingressSubject, head: text('h'),
  }));
  pair.ncHub.publish(ingressSubject, encodeFrame({
    type: FrameType.Open, streamId: 'x-3', seq: 0, windowBytes: 1000, replyTo: ingressSubject, head: text('h'),
  }));
  const expectedHubDrops = garbage.length + 2;
  const expectedIngressDrops = garbage.length + 1;
  await waitFor('hub dropped the garbage', () => pair.server.droppedFrameCount === expectedHubDrops);
  await waitFor('ingress dropped the garbage', () => pair.client.droppedFrameCount === expectedIngressDrops);

  await upload;
  assert.deepEqual(await echoed, { sha256: source.digest(), bytes: 4 * MIB });
  // And a new stream after it all.
  const again = pair.client.open('hub-1', text('again'));
  again.end(text('ping'));
  const [head] = await once(again, 'response');
  assert.equal(Buffer.from(head as Uint8Array).toString(), 'again');
  assert.equal(Buffer.concat(await again.toArray()).toString(), 'ping');
  assert.equal(pair.server.droppedFrameCount, expectedHubDrops);
  assert.equal(pair.client.droppedFrameCount, expectedIngressDrops);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('client close() resets its streams: the hub sees ERR_CLOSED', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('GET /'));
  const ingressError = errorOf(stream);
  const [hubStream] = await opened;
  hubStream.accept();
  const hubError = errorOf(hubStream);
  await pair.client.close();
  assert.equal((await ingressError).code, ErrorCode.Closed);
  assert.equal((await hubError).code, ErrorCode.Closed);
  assert.equal(pair.client.streamCount, 0);
  await waitFor('hub frees the stream', () => pair.server.streamCount === 0);
  assert.throws(() => pair.client.open('hub-1', text('x')), (e: unknown) => e instanceof HopError && e.code === ErrorCode.Closed);
  await pair.close();
});

test('server close(): its streams are reset, later OPENs find no responders', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const first = pair.client.open('hub-1', text('GET /'));
  const [hubStream] = await opened;
  hubStream.on('error', () => undefined);
  hubStream.respond(text('200'));
  await once(first, 'response');
  const firstError = errorOf(first);
  await pair.server.close();
  assert.equal((await firstError).code, ErrorCode.Closed);
  const second = pair.client.open('hub-1', text('GET /'));
  assert.equal((await errorOf(second)).code, ErrorCode.ClientOffline);
  await waitFor('ingress frees both', () => pair.client.streamCount === 0);
  await pair.close();
});

test('a hub at maxStreams rejects with ERR_BUSY; without an open listener with ERR_INTERNAL', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats, { server: { maxStreams: 1 } });
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const first = pair.client.open('hub-1', text('GET /1'));
  const [hubStream] = await opened;
  hubStream.accept();
  const second = pair.client.open('hub-1', text('GET /2'));
  assert.equal((await errorOf(second)).code, ErrorCode.Busy);
  const hubError = errorOf(hubStream);
  first.destroy();
  assert.equal((await hubError).code, ErrorCode.StreamReset);
  await waitFor('hub frees the first', () => pair.server.streamCount === 0);
  pair.server.removeAllListeners('open');
  const third = pair.client.open('hub-1', text('GET /3'));
  assert.equal((await errorOf(third)).code, ErrorCode.Internal);
  await pair.close();
});

test('hub writes before respond() wait for it; END without body works', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  pair.server.once('open', (stream) => {
    stream.accept();
    stream.write(text('body-'));
    stream.end(text('after-head'));
    stream.resume();
    setImmediate(() => stream.respond(text('late head')));
  });
  const stream = pair.client.open('hub-1', text('GET /'));
  stream.end();
  const [head] = await once(stream, 'response');
  assert.equal(Buffer.from(head as Uint8Array).toString(), 'late head');
  assert.equal(Buffer.concat(await stream.toArray()).toString(), 'body-after-head');
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('a NATS disconnect resets the streams on that side, and the peer after the reconnect', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('GET /'));
  const [hubStream] = await opened;
  hubStream.respond(text('200'));
  await once(stream, 'response');
  const ingressError = errorOf(stream);
  const hubError = errorOf(hubStream);
  await pair.ncIngress.reconnect();
  const err = await ingressError;
  assert.equal(err.code, ErrorCode.Closed);
  assert.equal(err.message, 'NATS connection lost');
  assert.equal((await hubError).code, ErrorCode.Closed);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  // The relay works again over the new connection.
  pair.server.once('open', (s) => {
    s.respond(text('again'));
    s.end();
    s.resume();
  });
  const again = pair.client.open('hub-1', text('GET /'));
  again.end();
  const [head] = await once(again, 'response');
  assert.equal(Buffer.from(head as Uint8Array).toString(), 'again');
  await drain(again);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

/** Every message on `subject` seen by a connection of its own, decoded. */
async function spy(nc: NatsConnection, subject: string): Promise<{ messages: Array<{ reply: string | undefined; frames: Frame[] }>; flush(): Promise<void>; stop(): void }> {
  const messages: Array<{ reply: string | undefined; frames: Frame[] }> = [];
  const subscription = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (!err) messages.push({ reply: msg.reply, frames: decodeFrames(msg.data) });
    },
  });
  await nc.flush();
  // flush(): a round trip to the server, by which time what it routed to the spy before has arrived.
  return { messages, flush: () => nc.flush(), stop: () => subscription.unsubscribe() };
}

test('an empty request body ended in the turn of open() rides on the OPEN as FIN: no END follows', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const wire = await spy(await nats.connect(), pair.subjects.hub('hub-1'));
  pair.server.on('open', (hubStream: RelayServerStream) => {
    hubStream.respond(text('200'));
    hubStream.end(text('hello'));
    hubStream.resume();
  });
  const stream = pair.client.open('hub-1', text('GET /'));
  stream.end();
  assert.equal((await drain(stream)).bytes, 5);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await wire.flush();
  const frames = wire.messages.flatMap((m) => m.frames).filter((f) => f.streamId === stream.requestId);
  assert.deepEqual(frames.map((f) => [f.type, f.type === FrameType.Open && f.fin]), [[FrameType.Open, true]]);
  wire.stop();
  await pair.close();
});

test('end() after the OPEN left: END follows ACCEPT, and the hub reads an empty body', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const wire = await spy(await nats.connect(), pair.subjects.hub('hub-1'));
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('POST /'));
  const [hubStream] = await opened;
  stream.end();
  hubStream.accept();
  assert.equal((await drain(hubStream)).bytes, 0);
  const framesOf = (): Frame[] => wire.messages.flatMap((m) => m.frames).filter((f) => f.streamId === stream.requestId);
  await waitFor('the spy to see END', () => framesOf().length >= 2);
  const frames = framesOf();
  assert.deepEqual(frames.map((f) => [f.type, f.seq, f.type === FrameType.Open && f.fin]), [[FrameType.Open, 0, false], [FrameType.End, 1, false]]);
  hubStream.respond(text('204'));
  hubStream.end();
  stream.resume();
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  wire.stop();
  await pair.close();
});

test('the frames of one turn to one subject leave as one message: ten OPENs, one reply subject; the answers come back together', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const toHub = await spy(await nats.connect(), pair.subjects.hub('hub-1'));
  const toIngress = await spy(await nats.connect(), pair.subjects.ingress('ing-1'));
  pair.server.on('open', (hubStream: RelayServerStream) => {
    hubStream.respond(text('200'));
    hubStream.end(text('ok'));
    hubStream.resume();
  });
  const streams = Array.from({ length: 10 }, () => {
    const stream = pair.client.open('hub-1', text('GET /'));
    stream.end();
    return stream;
  });
  for (const stream of streams) assert.equal((await drain(stream)).bytes, 2);
  await toHub.flush();
  await toIngress.flush();
  assert.equal(toHub.messages.length, 1);
  assert.equal(toHub.messages[0]!.frames.length, 10);
  assert.match(toHub.messages[0]!.reply ?? '', /\.open\.\d+$/);
  // ACCEPT, RESPONSE, DATA, END of all ten, made in the hub's one turn: one message.
  assert.equal(toIngress.messages.length, 1);
  assert.deepEqual(toIngress.messages[0]!.frames.slice(0, 4).map((f) => f.type), [FrameType.Accept, FrameType.Response, FrameType.Data, FrameType.End]);
  assert.equal(toIngress.messages[0]!.frames.length, 40);
  toHub.stop();
  toIngress.stop();
  await pair.close();
});
