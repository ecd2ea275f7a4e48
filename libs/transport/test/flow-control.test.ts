import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { waitFor } from '@hopgate/testkit';
import { STREAM_HIGH_WATER_MARK_BYTES, STREAM_SEND_BUFFER_MIN_BYTES, type TransportStream } from '../src/index.js';
import { connectPair, nextStream, type Pair, patternBytes, readAll, sha256, TEST_TIMEOUT_MS } from '../test-support/helpers.js';

const KIB = 1024;
const STREAM_WINDOW = 64 * KIB;
const CONNECTION_WINDOW = 256 * KIB;
const CHUNK = 16 * KIB;

let pair: Pair | undefined;
afterEach(() => pair?.close());

/** Writes until write() returns false or `data` is exhausted; returns the bytes written. */
function writeUntilBlocked(stream: TransportStream, data: Buffer, from: number): number {
  let offset = from;
  while (offset < data.length) {
    const more = stream.write(data.subarray(offset, offset + CHUNK));
    offset += CHUNK;
    if (!more) break;
  }
  return offset;
}

test('a slow reader bounds the buffers on both sides by the windows; all arrives when it reads', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair(
    { lossRate: 0.01, seed: 3 },
    {},
    { initialStreamWindowBytes: STREAM_WINDOW, maxStreamWindowBytes: 4 * STREAM_WINDOW },
  );
  const { client, server } = pair;
  const data = patternBytes(4 * 1024 * KIB, 9);
  const incoming = nextStream(server);
  const stream = client.openStream();
  let offset = writeUntilBlocked(stream, data, 0);
  const serverStream = await incoming;
  serverStream.pause();

  // Keep writing whenever the stream drains, while the server does not read at all.
  let drains = 0;
  stream.on('drain', () => {
    drains++;
    offset = writeUntilBlocked(stream, data, offset);
  });
  // The receiver fills its window and stops granting credit; the sender stalls.
  await waitFor('receiver window full', () => serverStream.receiveBufferedBytes >= STREAM_WINDOW || undefined);
  const stalledAt = offset;
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(offset, stalledAt, 'the writer made no progress while the reader was paused');
  assert.ok(offset < data.length, 'write() returned false long before all data was written');
  assert.equal(stream.writableNeedDrain, true);
  // Receiver: exactly the window it advertised, never more (RFC 9000 §4.1).
  assert.equal(serverStream.receiveLimit, STREAM_WINDOW);
  assert.ok(serverStream.receiveBufferedBytes <= STREAM_WINDOW, `receiver holds ${serverStream.receiveBufferedBytes}`);
  // Sender: the peer's credit and the Writable's highWaterMark, each exceeded by at most the
  // chunk that crossed it (the chunk inside _write() is counted by both).
  const senderBound = Math.max(STREAM_SEND_BUFFER_MIN_BYTES, STREAM_WINDOW) + STREAM_HIGH_WATER_MARK_BYTES + 2 * CHUNK;
  assert.ok(stream.sendBufferedBytes <= senderBound, `sender holds ${stream.sendBufferedBytes} > ${senderBound}`);
  assert.ok(server.stats().streamBytesReceived <= STREAM_WINDOW);

  // Now read: everything arrives, in order and intact.
  const received = readAll(serverStream);
  serverStream.resume();
  await waitFor('all written', () => offset >= data.length || undefined, 20_000);
  stream.end();
  const result = await received;
  assert.equal(result.sha256, sha256(data));
  assert.ok(drains > 0);
  serverStream.end();
  stream.resume();
  await waitFor('freed', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});

test('the connection window bounds what all streams together may have unread', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair(
    { seed: 4 },
    {},
    {
      initialStreamWindowBytes: STREAM_WINDOW,
      maxStreamWindowBytes: STREAM_WINDOW,
      initialConnectionWindowBytes: CONNECTION_WINDOW / 2,
      maxConnectionWindowBytes: CONNECTION_WINDOW,
    },
  );
  const { client, server } = pair;
  const paused: TransportStream[] = [];
  server.on('stream', (s: TransportStream) => {
    s.on('error', () => undefined);
    s.pause();
    paused.push(s);
  });
  const streams = Array.from({ length: 8 }, () => client.openStream().on('error', () => undefined));
  const data = patternBytes(STREAM_WINDOW, 1);
  for (const s of streams) s.write(data);
  // 8 streams x 64 KiB = 512 KiB wanted, but the connection grants only 128 KiB.
  await waitFor('connection credit used up', () => server.stats().streamBytesReceived >= CONNECTION_WINDOW / 2 || undefined);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(server.stats().streamBytesReceived, CONNECTION_WINDOW / 2);
  const unread = paused.reduce((sum, s) => sum + s.receiveBufferedBytes, 0);
  assert.equal(unread, CONNECTION_WINDOW / 2);
  // Reading frees connection credit and the rest flows.
  for (const s of paused) s.resume();
  await waitFor('all delivered', () => server.stats().streamBytesReceived === 8 * STREAM_WINDOW || undefined);
  for (const s of streams) s.destroy();
  await waitFor('freed', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});
