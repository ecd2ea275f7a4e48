import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, HopError } from '@hopgate/errors';
import { waitFor } from '@hopgate/testkit';
import { RelayServerStream, DEFAULT_WINDOW_BYTES, decodeFrame, FrameType } from '../src/index.js';
import { NatsFixture, relayPair, randomSource, drain, errorOf, text, MIB, KIB } from './helpers.js';

/** A broken flow-control or reset path shows up as a hang: fail it instead. */
const TEST_TIMEOUT_MS = 30_000;

const nats = new NatsFixture();
before(() => nats.start());
after(() => nats.stop());

test('round trip: 10 MiB request body and 10 MiB response body arrive intact', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const request = randomSource(10 * MIB);
  const response = randomSource(10 * MIB);
  const hubSide = new Promise<{ head: string; body: { sha256: string; bytes: number } }>((resolve, reject) => {
    pair.server.once('open', (stream) => {
      stream.on('error', reject);
      stream.accept();
      drain(stream)
        .then(async (body) => {
          stream.respond(text('200 OK'));
          await pipeline(response.stream, stream);
          resolve({ head: Buffer.from(stream.head).toString(), body });
        })
        .catch(reject);
    });
  });

  const stream = pair.client.open('hub-1', text('POST /upload'));
  const responseHead = once(stream, 'response');
  const [, hub, [head], got] = await Promise.all([
    pipeline(request.stream, stream),
    hubSide,
    responseHead,
    responseHead.then(() => drain(stream)),
  ]);
  assert.equal(hub.head, 'POST /upload');
  assert.deepEqual(hub.body, { sha256: request.digest(), bytes: 10 * MIB });
  assert.equal(Buffer.from(head as Uint8Array).toString(), '200 OK');
  assert.deepEqual(got, { sha256: response.digest(), bytes: 10 * MIB });
  await waitFor('both sides to free the stream', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test("'accepted' once at the hub's ACCEPT, then the response head exactly once and before any body byte", { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  pair.server.once('open', (stream) => {
    stream.respond(text('head'));
    stream.end(Buffer.alloc(100_000, 7));
    stream.resume();
  });
  const stream = pair.client.open('hub-1', text('GET /'));
  stream.end();
  const events: string[] = [];
  stream.on('accepted', () => events.push('accepted'));
  stream.on('response', () => events.push('response'));
  stream.on('data', () => {
    if (events.at(-1) !== 'data') events.push('data');
  });
  await once(stream, 'end');
  assert.deepEqual(events, ['accepted', 'response', 'data']);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('slow reader at the hub: the ingress stops at one window, all arrives on resume', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const request = randomSource(10 * MIB);
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('POST /slow'));
  const upload = pipeline(request.stream, stream);
  const [hubStream] = await opened;
  hubStream.accept();

  // Nobody reads at the hub: the ingress must stall with exactly one window outstanding.
  await waitFor('ingress blocked on credit', () => stream.flowStats().sentBytes === DEFAULT_WINDOW_BYTES);
  await pair.ncIngress.flush();
  await pair.ncHub.flush();
  const hubFlow = hubStream.flowStats();
  assert.equal(hubFlow.receivedBytes, DEFAULT_WINDOW_BYTES);
  assert.equal(hubFlow.bufferedBytes, DEFAULT_WINDOW_BYTES);
  assert.equal(stream.flowStats().sendOutstandingBytes, DEFAULT_WINDOW_BYTES);
  assert.equal(stream.flowStats().sendCreditBytes, 0);
  // The stall is counted once per wait (hopgate_relay_credit_stalls_total), on the waiting side only.
  assert.equal(pair.client.creditStalls, 1);
  assert.equal(pair.server.creditStalls, 0);
  // The writer was slowed too: it produced at most a window plus the stream buffers, not 10 MiB.
  assert.ok(request.produced() <= DEFAULT_WINDOW_BYTES + 256 * KIB, `source produced ${request.produced()} bytes`);

  // Resume: everything arrives, and the window holds at every step.
  let worstOutstanding = 0;
  hubStream.on('data', () => {
    worstOutstanding = Math.max(worstOutstanding, hubStream.flowStats().receiveOutstandingBytes, stream.flowStats().sendOutstandingBytes);
  });
  const body = await drain(hubStream);
  await upload;
  assert.deepEqual(body, { sha256: request.digest(), bytes: 10 * MIB });
  assert.ok(worstOutstanding <= DEFAULT_WINDOW_BYTES, `outstanding reached ${worstOutstanding}`);
  hubStream.respond(text('done'));
  hubStream.end();
  await drain(stream);
  await pair.close();
});

test('slow reader at the ingress: the hub stops at one window, all arrives on resume', { timeout: TEST_TIMEOUT_MS }, async () => {
  const window = 256 * KIB;
  const pair = await relayPair(nats, { client: { windowBytes: window, chunkBytes: 16 * KIB } });
  const response = randomSource(10 * MIB);
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('GET /big'));
  stream.end();
  const [hubStream] = await opened;
  hubStream.respond(text('200'));
  hubStream.resume();
  const download = pipeline(response.stream, hubStream);

  await waitFor('hub blocked on credit', () => hubStream.flowStats().sentBytes === window);
  await pair.ncHub.flush();
  await pair.ncIngress.flush();
  assert.equal(stream.flowStats().receivedBytes, window);
  assert.equal(stream.flowStats().bufferedBytes, window);
  assert.equal(hubStream.flowStats().sendCreditBytes, 0);
  assert.ok(response.produced() <= window + 256 * KIB, `source produced ${response.produced()} bytes`);

  let worstOutstanding = 0;
  stream.on('data', () => {
    worstOutstanding = Math.max(worstOutstanding, stream.flowStats().receiveOutstandingBytes, hubStream.flowStats().sendOutstandingBytes);
  });
  const body = await drain(stream);
  await download;
  assert.deepEqual(body, { sha256: response.digest(), bytes: 10 * MIB });
  assert.ok(worstOutstanding <= window, `outstanding reached ${worstOutstanding}`);
  await waitFor('both sides to free the stream', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('64 concurrent streams arrive intact both ways', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  pair.server.on('open', (stream) => {
    stream.on('error', () => undefined);
    stream.respond(stream.head); // echo: head and body
    stream.pipe(stream);
  });
  const results = await Promise.all(
    Array.from({ length: 64 }, async (_, i) => {
      const source = randomSource(512 * KIB + i * 1000, 32 * KIB);
      const stream = pair.client.open('hub-1', text(`stream ${i}`));
      const head = once(stream, 'response');
      const [, [echoedHead], echoed] = await Promise.all([pipeline(source.stream, stream), head, drain(stream)]);
      return { i, head: Buffer.from(echoedHead as Uint8Array).toString(), echoed, sent: source.digest(), bytes: source.produced() };
    }),
  );
  for (const r of results) {
    assert.equal(r.head, `stream ${r.i}`);
    assert.deepEqual(r.echoed, { sha256: r.sent, bytes: r.bytes });
  }
  await waitFor('all streams freed', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('no hub subscribed: the stream fails with ERR_CLIENT_OFFLINE', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const stream = pair.client.open('hub-gone', text('GET /'));
  const err = await errorOf(stream);
  assert.ok(err instanceof HopError);
  assert.equal(err.code, ErrorCode.ClientOffline);
  assert.equal(pair.client.streamCount, 0);
  await pair.close();
});

test('open() takes request ids the caller minted if they start with its ingress id; others, over-long and in-use ids are refused', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const heads: string[] = [];
  pair.server.on('open', (stream) => {
    heads.push(stream.requestId);
    stream.accept();
    stream.respond(text('200'));
    stream.end();
    stream.resume();
  });
  const prefix = 'ing-1-';
  const own = pair.client.open('hub-1', text('GET /'), `${prefix}minted-7`);
  own.end();
  await drain(own);
  assert.deepEqual(heads, [`${prefix}minted-7`], 'the hub sees the id the caller minted');
  const held = pair.client.open('hub-1', text('GET /'), `${prefix}held`);
  for (const id of [`other-ingress-1`, `x${prefix}1`, `${prefix}${'9'.repeat(300)}`, `${prefix}held`]) {
    assert.throws(() => pair.client.open('hub-1', text('GET /'), id), (err: unknown) => err instanceof HopError && err.code === ErrorCode.Internal, id);
  }
  held.end();
  await drain(held);
  assert.equal(heads.length, 2, 'no refused id reached the hub');
  await pair.close();
});

test("reject(code, message): the ingress stream errors with that code and message, never 'accepted'", { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  pair.server.once('open', (stream) => stream.reject(ErrorCode.UnknownService, 'no service "db" on laptop'));
  const stream = pair.client.open('hub-1', text('GET /'));
  let accepted = false;
  stream.once('accepted', () => (accepted = true));
  const err = await errorOf(stream);
  assert.equal(accepted, false, 'a rejected stream was never accepted');
  assert.ok(err instanceof HopError);
  assert.equal(err.code, ErrorCode.UnknownService);
  assert.equal(err.message, 'no service "db" on laptop');
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('fail(code) after accept: the ingress errors with that code', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  pair.server.once('open', (stream) => {
    stream.respond(text('200'));
    stream.write(Buffer.alloc(1000));
    stream.fail(ErrorCode.OriginUnreachable, 'origin went away');
  });
  const stream = pair.client.open('hub-1', text('GET /'));
  stream.resume();
  const err = await errorOf(stream);
  assert.equal(err.code, ErrorCode.OriginUnreachable);
  assert.equal(err.message, 'origin went away');
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('cancel from the ingress: the hub stream errors ERR_STREAM_RESET and both sides free it', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('POST /'));
  stream.write(Buffer.alloc(200 * KIB));
  const [hubStream] = await opened;
  hubStream.accept();
  await waitFor('hub got data', () => hubStream.flowStats().receivedBytes > 0);
  const hubError = errorOf(hubStream);
  stream.destroy();
  const err = await hubError;
  assert.ok(err instanceof HopError);
  assert.equal(err.code, ErrorCode.StreamReset);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('cancel from the hub: the ingress stream errors ERR_STREAM_RESET and both sides free it', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('GET /'));
  stream.end();
  const [hubStream] = await opened;
  hubStream.respond(text('200'));
  hubStream.write(Buffer.alloc(100 * KIB));
  await once(stream, 'response');
  const ingressError = errorOf(stream);
  hubStream.destroy();
  const err = await ingressError;
  assert.ok(err instanceof HopError);
  assert.equal(err.code, ErrorCode.StreamReset);
  assert.equal(pair.server.streamCount, 0);
  await waitFor('ingress frees the stream', () => pair.client.streamCount === 0);
  await pair.close();
});

test('cancel before ACCEPT: the hub stream errors and both sides free it', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const stream = pair.client.open('hub-1', text('GET /'));
  const [hubStream] = await opened;
  const hubError = errorOf(hubStream);
  stream.destroy();
  assert.equal((await hubError).code, ErrorCode.StreamReset);
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  await pair.close();
});

test('a stream destroyed in the turn it was opened: its OPEN never leaves and no RESET follows; the hub sees only the next stream', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pair = await relayPair(nats);
  // Everything published to the hub's subject, as the hub would receive it.
  const seen: Array<{ type: number; streamId: string }> = [];
  const tap = pair.ncHub.subscribe(pair.subjects.hub('hub-1'), {
    callback: (err, msg) => {
      if (err) return;
      const frame = decodeFrame(msg.data);
      seen.push({ type: frame.type, streamId: frame.streamId });
    },
  });
  await pair.ncHub.flush();
  const opens: string[] = [];
  pair.server.on('open', (hubStream: RelayServerStream) => {
    hubStream.on('error', () => undefined);
    opens.push(hubStream.requestId);
  });

  const gone = pair.client.open('hub-1', text('GET /reset-at-once'));
  gone.on('error', () => undefined);
  gone.destroy();
  assert.equal(gone.openWithdrawn, true);

  const opened = once(pair.server, 'open') as Promise<[RelayServerStream]>;
  const kept = pair.client.open('hub-1', text('GET /kept'));
  kept.end();
  const [hubStream] = await opened;
  assert.equal(hubStream.requestId, kept.requestId);
  // Frames from one publisher keep their order: anything sent for the first stream came before this OPEN.
  assert.deepEqual(seen.filter((f) => f.streamId === gone.requestId), []);
  assert.deepEqual(opens, [kept.requestId]);
  assert.equal(kept.openWithdrawn, false);
  hubStream.accept();
  hubStream.respond(text('200'));
  hubStream.end();
  hubStream.resume();
  await once(kept, 'response');
  kept.resume();

  // Once the OPEN has left, a cancel is a RESET the hub sees.
  const late = pair.client.open('hub-1', text('GET /late'));
  late.on('error', () => undefined);
  await waitFor('the hub got the late OPEN', () => opens.includes(late.requestId));
  late.destroy();
  assert.equal(late.openWithdrawn, false);
  await waitFor('the hub got the RESET of the late stream', () => seen.some((f) => f.streamId === late.requestId && f.type === FrameType.Reset));
  await waitFor('both sides free', () => pair.client.streamCount === 0 && pair.server.streamCount === 0);
  tap.unsubscribe();
  await pair.close();
});

/**
 * The hub side writes `pieces` writes of `pieceBytes` in one turn (as it writes what one read of
 * datagrams delivered) and ends; returns the body and the DATA chunks the client read, in order.
 */
async function writesOfOneTurn(chunkBytes: number, pieces: number, pieceBytes: number): Promise<{ body: Buffer; chunks: Buffer[] }> {
  const pair = await relayPair(nats, { server: { chunkBytes } });
  const body = Buffer.alloc(pieces * pieceBytes);
  for (let i = 0; i < body.length; i += 1) body[i] = (i * 7 + (i >> 10)) & 0xff;
  pair.server.once('open', (stream) => {
    stream.respond(text('head'));
    for (let i = 0; i < pieces; i += 1) stream.write(body.subarray(i * pieceBytes, (i + 1) * pieceBytes));
    stream.end();
    stream.resume();
  });
  const stream = pair.client.open('hub-1', text('GET /'));
  stream.end();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(stream, 'end');
  await pair.close();
  return { body, chunks };
}

test('small writes in one turn leave as chunk-sized DATA frames, bytes in order; a frame never passes chunkBytes', { timeout: TEST_TIMEOUT_MS }, async () => {
  const chunkBytes = 8 * KIB;
  // 40 writes of 1,000 bytes: five frames of at most 8 KiB instead of 40 of 1,000.
  const { body, chunks } = await writesOfOneTurn(chunkBytes, 40, 1000);
  const sizes = chunks.map((c) => c.length).join(',');
  assert.ok(Buffer.concat(chunks).equals(body), 'the bytes arrive whole and in order');
  assert.ok(chunks.every((c) => c.length <= chunkBytes), `no frame above chunkBytes: ${sizes}`);
  // Five full frames' worth, plus at most one cut where a message fills up (32 KiB each).
  assert.ok(chunks.length <= Math.ceil(body.length / chunkBytes) + 1, `frames: ${sizes}`);
});

test('writes larger than the room left fill the previous DATA frame first: chunk-sized frames, not one per write', { timeout: TEST_TIMEOUT_MS }, async () => {
  const chunkBytes = 8 * KIB;
  // 10 writes of 5,000 bytes: two never share a frame whole, so without filling, 10 frames of 5,000.
  const { body, chunks } = await writesOfOneTurn(chunkBytes, 10, 5_000);
  const sizes = chunks.map((c) => c.length).join(',');
  assert.ok(Buffer.concat(chunks).equals(body), 'the bytes arrive whole and in order');
  assert.ok(chunks.every((c) => c.length <= chunkBytes), `no frame above chunkBytes: ${sizes}`);
  // 50,000 bytes: seven frames of up to 8 KiB, plus at most one cut where a 32 KiB message fills up.
  assert.ok(chunks.length <= Math.ceil(body.length / chunkBytes) + 1, `frames: ${sizes}`);
});
