import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { ErrorCode, type HopError } from '@hopgate/errors';
import { waitFor } from '@hopgate/testkit';
import type { TransportStream } from '../src/index.js';
import { connectPair, type Pair, TEST_TIMEOUT_MS } from '../test-support/helpers.js';

let pair: Pair | undefined;
afterEach(() => pair?.close());

/** The server answers each stream: reads it to its end, then ends its own direction. */
function echoEnd(stream: TransportStream): void {
  stream.on('error', () => undefined);
  stream.resume();
  stream.on('end', () => stream.end());
}

test('opening beyond the peer MAX_STREAMS throws ERR_BUSY; after streams close, opening works again', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ seed: 61 }, {}, { maxIncomingStreams: 4 });
  const { client, server } = pair;
  const held: TransportStream[] = [];
  server.on('stream', (s: TransportStream) => {
    s.on('error', () => undefined);
    s.resume();
    held.push(s);
  });
  await waitFor('peer limit known', () => client.stats().peerMaxStreams === 4 || undefined);
  const streams = Array.from({ length: 4 }, () => client.openStream());
  for (const s of streams) s.write('x');
  assert.throws(() => client.openStream(), (e: HopError) => e.code === ErrorCode.Busy);
  await waitFor('server holds 4 streams', () => held.length === 4 || undefined);
  assert.equal(server.streamCount, 4);

  // Close them (both directions); the server's MAX_STREAMS moves on by 4.
  for (const s of streams) {
    s.resume();
    s.end();
  }
  for (const s of held) s.end();
  await waitFor('all freed', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
  await waitFor('limit raised', () => client.stats().peerMaxStreams === 8 || undefined);
  const more = Array.from({ length: 4 }, () => client.openStream());
  assert.throws(() => client.openStream(), (e: HopError) => e.code === ErrorCode.Busy);
  for (const s of more) s.destroy();
  await waitFor('freed again', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});

test('streams opened before the peer limit is known wait for room instead of failing', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ seed: 62 }, {}, { maxIncomingStreams: 2 });
  const { client, server } = pair;
  const seen: number[] = [];
  server.on('stream', (s: TransportStream) => {
    seen.push(s.id);
    echoEnd(s);
  });
  // Opened at once, before the server's transport parameters can have arrived.
  const streams = Array.from({ length: 6 }, () => client.openStream());
  await Promise.all(
    streams.map(async (s) => {
      s.end(`stream ${s.id}`);
      s.resume();
      await new Promise((resolve) => s.once('end', resolve));
    }),
  );
  assert.deepEqual(seen, [0, 4, 8, 12, 16, 20]);
  assert.ok(server.stats().peerMaxStreams >= 0);
  await waitFor('all freed', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});
