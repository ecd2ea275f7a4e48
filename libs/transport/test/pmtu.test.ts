/**
 * Path MTU discovery (RFC 8899 §5.2, RFC 9000 §14.3) over the in-memory link: the
 * connection starts at the base size, probes the link's larger sizes, keeps the largest the
 * path carries, never counts a lost probe as congestion, and falls back to the base size when
 * the path shrinks under it (a black hole), with every byte still delivered.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { waitFor } from '@hopgate/testkit';
import { PmtuSearch, PmtuState, PMTU_MAX_PROBES, PMTU_BLACK_HOLE_LOST_PACKETS, PMTU_RAISE_INTERVAL_MS } from '../src/index.js';
import { connectPair, nextStream, type Pair, patternBytes, readAll, sha256, TEST_TIMEOUT_MS, writeAll } from '../test-support/helpers.js';

const MIB = 1024 * 1024;
const BASE = 1160;
/** The DTLS link's ladder (1452, 8952 and 16420 byte UDP payloads less 37 bytes of record overhead). */
const LADDER = [1415, 8915, 16383];

let pair: Pair | undefined;
afterEach(() => pair?.close());

async function transfer(p: Pair, bytes: number, seed: number): Promise<void> {
  const data = patternBytes(bytes, seed);
  const incoming = nextStream(p.server);
  const stream = p.client.openStream();
  const sent = writeAll(stream, data);
  const serverStream = await incoming;
  const received = await readAll(serverStream);
  await sent;
  assert.equal(received.length, data.length);
  assert.equal(received.sha256, sha256(data));
  // Finish the stream both ways, so closing the pair later destroys nothing in use.
  serverStream.end();
  stream.resume();
  await waitFor('both ends free the stream', () => (p.client.streamCount === 0 && p.server.streamCount === 0) || undefined);
}

test('search: each acknowledged probe raises the size; three lost probes of one size end the search below it', () => {
  const search = new PmtuSearch(BASE, LADDER);
  assert.equal(search.probeSize(0), 1415);
  search.onProbeSent(1415);
  assert.equal(search.probeSize(0), 0, 'one probe outstanding at a time');
  assert.equal(search.onProbeAcked(1415, 1), true);
  assert.equal(search.current, 1415);
  for (let i = 0; i < PMTU_MAX_PROBES; i++) {
    assert.equal(search.probeSize(2), 8915);
    search.onProbeSent(8915);
    search.onProbeLost(8915, 2);
  }
  assert.equal(search.state, PmtuState.SearchComplete);
  assert.equal(search.current, 1415);
  assert.equal(search.probeSize(3), 0, 'no probe before the raise timer');
  assert.equal(search.probeSize(2 + PMTU_RAISE_INTERVAL_MS), 8915, 'the raise timer searches again');
});

test('search: a run of large losses is confirmed with probes of the current size: acked means congestion, lost means black hole', () => {
  const search = new PmtuSearch(BASE, [1415]);
  search.onProbeSent(1415);
  search.onProbeAcked(1415, 0);
  assert.equal(search.state, PmtuState.SearchComplete);
  for (let i = 0; i < PMTU_BLACK_HOLE_LOST_PACKETS - 1; i++) search.onPacketLost(1415);
  search.onPacketAcked(1415);
  for (let i = 0; i < PMTU_BLACK_HOLE_LOST_PACKETS - 1; i++) search.onPacketLost(1415);
  assert.equal(search.state, PmtuState.SearchComplete, 'an acknowledged large packet between resets the run');
  search.onPacketLost(1415);
  assert.equal(search.state, PmtuState.Confirming);
  // A confirmation probe gets through: it was a congested queue, the size stays.
  assert.equal(search.probeSize(1), 1415);
  search.onProbeSent(1415);
  assert.equal(search.onProbeAcked(1415, 1), false);
  assert.equal(search.state, PmtuState.SearchComplete);
  assert.equal(search.current, 1415);
  // Another run, and this time every confirmation probe is lost: the size falls back.
  for (let i = 0; i < PMTU_BLACK_HOLE_LOST_PACKETS; i++) search.onPacketLost(1415);
  assert.equal(search.state, PmtuState.Confirming);
  for (let i = 0; i < PMTU_MAX_PROBES; i++) {
    assert.equal(search.probeSize(2), 1415);
    search.onProbeSent(1415);
    assert.equal(search.onProbeLost(1415, 2), i === PMTU_MAX_PROBES - 1);
  }
  assert.equal(search.current, BASE);
  assert.equal(search.blackHoles, 1);
});

test('a path carrying everything: the connection reaches the largest size and uses it', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ maxDatagramSize: BASE, probeDatagramSizes: LADDER });
  await transfer(pair, 8 * MIB, 1);
  const stats = pair.client.stats();
  assert.equal(stats.maxDatagramSizeBytes, 16383);
  assert.ok(stats.pmtuProbesSent >= LADDER.length, JSON.stringify(stats));
  // Most data went in large packets: far fewer packets than at the base size.
  assert.ok(stats.packetsSent < (8 * MIB) / BASE / 4, `packets sent ${stats.packetsSent}`);
});

test('a 1500-byte path: the search stops at 1415 and lost probes are no congestion', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ maxDatagramSize: BASE, probeDatagramSizes: LADDER, pathMtuBytes: 1415 });
  await transfer(pair, 8 * MIB, 2);
  const stats = pair.client.stats();
  assert.equal(stats.maxDatagramSizeBytes, 1415);
  assert.equal(pair.clientLink.stats.tooBigDropped, PMTU_MAX_PROBES, 'only the probes of 8915 were too big');
  assert.equal(stats.packetsLost, 0, 'lost probes are not counted as lost packets');
  assert.equal(stats.congestionReductions, 0, 'nor as congestion');
});

test('with the option off the connection stays at the base size and sends no probe', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ maxDatagramSize: BASE, probeDatagramSizes: LADDER }, { pathMtuDiscovery: false });
  await transfer(pair, 2 * MIB, 3);
  assert.equal(pair.client.stats().maxDatagramSizeBytes, BASE);
  assert.equal(pair.client.stats().pmtuProbesSent, 0);
});

test('a link without larger sizes: the connection stays at the base size', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ maxDatagramSize: BASE });
  await transfer(pair, 2 * MIB, 4);
  assert.equal(pair.client.stats().maxDatagramSizeBytes, BASE);
});

test('the path shrinks mid-transfer (a black hole): the size falls back to the base and every byte arrives', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ maxDatagramSize: BASE, probeDatagramSizes: LADDER });
  const p = pair;
  await transfer(p, 8 * MIB, 5);
  assert.equal(p.client.stats().maxDatagramSizeBytes, 16383);
  // Now only base-size datagrams get through, client to server.
  p.clientLink.configure({ pathMtuBytes: 1300 });
  await transfer(p, 8 * MIB, 6);
  const stats = p.client.stats();
  assert.equal(stats.maxDatagramSizeBytes, BASE);
  assert.equal(stats.pmtuBlackHoles, 1);
  await waitFor('no probe is sent again before the raise timer', () => (p.client.stats().pmtuProbesSent === stats.pmtuProbesSent ? true : undefined), 200);
});

test('5% loss, reordering and duplication: the search completes and 20 MiB arrive intact', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ maxDatagramSize: BASE, probeDatagramSizes: LADDER, lossRate: 0.05, reorderRate: 0.03, duplicateRate: 0.02, seed: 9 });
  await transfer(pair, 20 * MIB, 7);
  const stats = pair.client.stats();
  assert.equal(stats.maxDatagramSizeBytes, 16383, JSON.stringify(stats));
  assert.equal(stats.pmtuBlackHoles, 0, 'random loss is no black hole');
});
