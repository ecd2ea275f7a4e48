import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { waitFor } from '@hopgate/testkit';
import type { TransportStream } from '../src/index.js';
import { connectPair, type Pair, patternBytes, readAll, sha256, TEST_TIMEOUT_MS, writeAll } from '../test-support/helpers.js';

let pair: Pair | undefined;
afterEach(() => pair?.close());

test('64 concurrent streams of different sizes are echoed intact over 2% loss', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ lossRate: 0.02, reorderRate: 0.01, duplicateRate: 0.01, seed: 21 });
  const { client, server } = pair;
  const seenIds: number[] = [];
  // The server echoes every stream back on itself (half-close: its FIN follows ours).
  server.on('stream', (stream: TransportStream) => {
    seenIds.push(stream.id);
    stream.on('error', () => undefined);
    stream.pipe(stream);
  });
  const sizes = Array.from({ length: 64 }, (_, i) => (i === 0 ? 0 : 1 + ((i * 7919 * 131) % (512 * 1024))));
  const results = await Promise.all(
    sizes.map(async (size, i) => {
      const data = patternBytes(size, 100 + i);
      const stream = client.openStream();
      const [echoed] = await Promise.all([readAll(stream), writeAll(stream, data, 16 * 1024)]);
      return { id: stream.id, ok: echoed.sha256 === sha256(data) && echoed.length === size };
    }),
  );
  assert.deepEqual(
    results.filter((r) => !r.ok).map((r) => r.id),
    [],
  );
  // Client-initiated ids are 0, 4, 8, ... (RFC 9000 §2.1), every one seen by the server.
  assert.deepEqual(
    results.map((r) => r.id),
    sizes.map((_, i) => i * 4),
  );
  assert.deepEqual([...seenIds].sort((a, b) => a - b), sizes.map((_, i) => i * 4));
  // Frames of several streams shared packets: far fewer packets than frames would need alone.
  const total = sizes.reduce((a, b) => a + b, 0);
  assert.ok(client.stats().streamBytesSent >= total);
  await waitFor('all stream state freed', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});

test('both sides open streams at once; ids follow the roles', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ seed: 5 });
  const { client, server } = pair;
  const fromClient: number[] = [];
  const fromServer: number[] = [];
  server.on('stream', (s: TransportStream) => {
    fromClient.push(s.id);
    s.resume();
    s.end();
  });
  client.on('stream', (s: TransportStream) => {
    fromServer.push(s.id);
    s.resume();
    s.end();
  });
  const opened = [...Array(4)].flatMap(() => [client.openStream(), server.openStream()]);
  for (const stream of opened) {
    stream.resume();
    stream.end('x');
  }
  await waitFor('all streams seen', () => (fromClient.length === 4 && fromServer.length === 4) || undefined);
  assert.deepEqual(fromClient, [0, 4, 8, 12]);
  assert.deepEqual(fromServer, [1, 5, 9, 13]);
  await waitFor('all freed', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});
