import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { waitFor } from '@hopgate/testkit';
import type { TransportStream } from '../src/index.js';
import { connectPair, nextStream, type Pair, patternBytes, readAll, sha256, TEST_TIMEOUT_MS, writeAll } from '../test-support/helpers.js';

const MIB = 1024 * 1024;
const LOSSY = { lossRate: 0.05, reorderRate: 0.03, duplicateRate: 0.02, seed: 7 };

let pair: Pair | undefined;
afterEach(() => pair?.close());

test('20 MiB on one stream arrive in order and intact over 5% loss, reordering and duplication', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair(LOSSY);
  const { client, server } = pair;
  const data = patternBytes(20 * MIB, 1);
  const incoming = nextStream(server);
  const stream = client.openStream();
  const sent = writeAll(stream, data);
  const serverStream = await incoming;
  const received = await readAll(serverStream);
  await sent;
  assert.equal(received.length, data.length);
  assert.equal(received.sha256, sha256(data));
  // The impairments really happened and were repaired by retransmission.
  assert.ok(pair.clientLink.stats.dropped > 100, `dropped ${pair.clientLink.stats.dropped}`);
  assert.ok(pair.clientLink.stats.reordered > 100 && pair.clientLink.stats.duplicated > 100);
  const stats = client.stats();
  assert.ok(stats.packetsLost > 0 && stats.streamBytesRetransmitted > 0, JSON.stringify(stats));
  assert.ok(server.stats().duplicatesDropped > 0);
  // The stream is finished both ways once the server ends its (empty) direction.
  serverStream.end();
  stream.resume();
  await waitFor('both ends free the stream', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});

test('20 MiB each way on one stream at the same time over the same lossy link', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ ...LOSSY, seed: 11 });
  const { client, server } = pair;
  const up = patternBytes(20 * MIB, 2);
  const down = patternBytes(20 * MIB, 3);
  const serverSide = nextStream(server).then(async (stream: TransportStream) => {
    const [received] = await Promise.all([readAll(stream), writeAll(stream, down)]);
    return received;
  });
  const stream = client.openStream();
  const [clientReceived] = await Promise.all([readAll(stream), writeAll(stream, up)]);
  const serverReceived = await serverSide;
  assert.equal(serverReceived.sha256, sha256(up));
  assert.equal(clientReceived.sha256, sha256(down));
  await waitFor('both ends free the stream', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});
