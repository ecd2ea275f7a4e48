import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, test } from 'node:test';
import { ErrorCode } from '@hopgate/errors';
import { waitFor } from '@hopgate/testkit';
import { StreamResetCode, StreamResetError, type TransportStream } from '../src/index.js';
import { connectPair, nextStream, type Pair, patternBytes, TEST_TIMEOUT_MS } from '../test-support/helpers.js';

let pair: Pair | undefined;
afterEach(() => pair?.close());

function errorOf(stream: TransportStream): Promise<Error> {
  return new Promise((resolve) => stream.once('error', resolve));
}

test('reset(code) mid-transfer: the peer errors with ERR_STREAM_RESET and the code; both ends free all state', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ lossRate: 0.02, seed: 12 });
  const { client, server } = pair;
  const incoming = nextStream(server);
  const stream = client.openStream();
  let localError: Error | undefined;
  stream.on('error', (err) => (localError = err));
  stream.write(patternBytes(256 * 1024, 1));
  const serverStream = await incoming;
  const peerError = errorOf(serverStream);
  let received = 0;
  serverStream.on('data', (chunk: Buffer) => (received += chunk.length));
  await waitFor('some data arrived', () => received > 0 || undefined);
  assert.equal(client.streamCount, 1);
  assert.equal(server.streamCount, 1);

  stream.reset(42);
  const err = await peerError;
  assert.ok(err instanceof StreamResetError);
  assert.equal((err as StreamResetError).code, ErrorCode.StreamReset);
  assert.equal((err as StreamResetError).resetCode, 42);
  assert.equal((err as StreamResetError).remote, true);
  await waitFor('both ends freed the stream', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
  await waitFor('local Duplex closed', () => stream.closed || undefined);
  assert.equal(localError, undefined, 'the side that resets gets no error event');
  // The connection is still usable.
  const next = nextStream(server);
  const afterReset = client.openStream();
  afterReset.end('after reset');
  afterReset.resume();
  const again = await next;
  again.resume();
  again.end();
  await waitFor('second stream freed', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});

test('the receiver destroys a stream it no longer wants: the sender sees ERR_STREAM_RESET, credit returns', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ seed: 13 }, {}, { initialStreamWindowBytes: 64 * 1024, initialConnectionWindowBytes: 128 * 1024 });
  const { client, server } = pair;
  const incoming = nextStream(server);
  const stream = client.openStream();
  const senderError = errorOf(stream);
  // More than the connection window: only reading (or discarding) returns credit.
  const big = patternBytes(1024 * 1024, 2);
  stream.write(big);
  const serverStream = await incoming;
  serverStream.on('error', () => undefined);
  await waitFor('window filled', () => serverStream.receiveBufferedBytes > 0 || undefined);
  serverStream.destroy(Object.assign(new Error('not interested'), { resetCode: 7 }));
  const err = (await senderError) as StreamResetError;
  assert.equal(err.code, ErrorCode.StreamReset);
  assert.equal(err.resetCode, 7, 'the numeric resetCode of the error travels in RESET_STREAM / STOP_SENDING');
  await waitFor('both ends freed the stream', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
  // Discarded bytes returned their connection credit: a new stream can move a full window.
  const next = nextStream(server);
  const fresh = client.openStream();
  fresh.end(patternBytes(128 * 1024, 3));
  const freshServer = await next;
  let got = 0;
  freshServer.on('data', (chunk: Buffer) => (got += chunk.length));
  await once(freshServer, 'end');
  assert.equal(got, 128 * 1024);
  freshServer.end();
  fresh.resume();
  await waitFor('freed again', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});

test('destroy(err) carries its code (InternalError without one); resets under 10% loss still free both ends', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ lossRate: 0.1, seed: 14 });
  const { client, server } = pair;
  const resets: StreamResetError[] = [];
  server.on('stream', (s: TransportStream) => {
    s.on('error', (err) => resets.push(err as StreamResetError));
    s.resume();
  });
  const streams = Array.from({ length: 20 }, () => {
    const s = client.openStream();
    s.on('error', () => undefined);
    s.write(patternBytes(20_000, 5));
    return s;
  });
  await waitFor('server saw all streams', () => server.stats().streamCount === 20 || undefined);
  for (const [i, s] of streams.entries()) s.destroy(i === 0 ? new Error('plain') : new StreamResetError(100 + i, false));
  await waitFor('every peer stream errored', () => resets.length === 20 || undefined);
  assert.deepEqual(
    resets.map((e) => e.resetCode).sort((a, b) => a - b),
    streams.map((_, i) => (i === 0 ? StreamResetCode.InternalError : 100 + i)),
  );
  await waitFor('both ends freed all streams', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});

test('peer streams are refused with a reset when nobody listens for them', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ seed: 15 });
  const { client, server } = pair;
  assert.equal(server.listenerCount('stream'), 0);
  const stream = client.openStream();
  const err = errorOf(stream);
  stream.write('anyone there?');
  const reset = (await err) as StreamResetError;
  assert.equal(reset.code, ErrorCode.StreamReset);
  assert.equal(reset.resetCode, StreamResetCode.Refused);
  await waitFor('both ends freed the stream', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});
