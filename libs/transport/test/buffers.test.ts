import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { waitFor } from '@hopgate/testkit';
import { connectPair, nextStream, patternBytes, readAll, TEST_TIMEOUT_MS, writeAll } from '../test-support/helpers.js';
import { AckTracker } from '../src/ack-tracker.js';
import { createMemoryLinkPair } from '../src/index.js';
import { RangeSet } from '../src/range-set.js';
import { ReceiveBuffer } from '../src/receive-buffer.js';
import { SendBuffer } from '../src/send-buffer.js';

function ranges(set: RangeSet): number[][] {
  return Array.from({ length: set.rangeCount }, (_, i) => [set.startAt(i), set.endAt(i)]);
}

test('RangeSet merges, splits and trims ranges', () => {
  const set = new RangeSet();
  set.add(10, 20);
  set.add(30, 40);
  set.add(20, 25); // touches: merges
  assert.deepEqual(ranges(set), [[10, 25], [30, 40]]);
  set.add(0, 5);
  set.add(24, 31); // bridges two ranges
  assert.deepEqual(ranges(set), [[0, 5], [10, 40]]);
  set.remove(15, 18); // splits
  assert.deepEqual(ranges(set), [[0, 5], [10, 15], [18, 40]]);
  assert.ok(set.has(4) && !set.has(5) && set.covers(18, 40) && !set.covers(14, 19));
  set.removeBelow(12);
  assert.deepEqual(ranges(set), [[12, 15], [18, 40]]);
  const excluded = new RangeSet();
  excluded.addExcluding(10, 50, set);
  assert.deepEqual(ranges(excluded), [[10, 12], [15, 18], [40, 50]]);
  set.keepHighest(1);
  assert.deepEqual(ranges(set), [[18, 40]]);
});

test('ReceiveBuffer reassembles out-of-order, overlapping and duplicate data in order', () => {
  const data = Buffer.from('abcdefghijklmnopqrstuvwxyz');
  const buffer = new ReceiveBuffer();
  const pieces: [number, number][] = [[20, 26], [5, 10], [0, 3], [8, 15], [5, 10], [2, 6], [14, 21], [0, 26]];
  const out: Buffer[] = [];
  for (const [start, end] of pieces) {
    buffer.insert(start, data.subarray(start, end));
    for (let chunk = buffer.shift(); chunk; chunk = buffer.shift()) out.push(chunk);
  }
  assert.equal(Buffer.concat(out).toString(), data.toString());
  assert.equal(buffer.readOffset, 26);
  assert.equal(buffer.buffered, 0);
});

test('ReceiveBuffer merges runs of small in-order segments into one chunk', () => {
  const buffer = new ReceiveBuffer();
  for (let i = 0; i < 10; i++) buffer.insert(i * 10, Buffer.alloc(10, 48 + i));
  buffer.insert(100, Buffer.alloc(600, 0x61));
  buffer.insert(700, Buffer.alloc(5, 0x62));
  assert.equal(buffer.segmentCount, 12);
  const merged = buffer.shiftMerged(512, 64);
  assert.equal(merged?.length, 60, 'merged up to the 64-byte cap');
  assert.equal(buffer.shiftMerged(512, 64)?.length, 40);
  assert.equal(buffer.shiftMerged(512, 64)?.length, 600, 'large segments pass alone');
  assert.equal(buffer.shiftMerged(512, 64)?.length, 5);
  assert.equal(buffer.shiftMerged(512, 64), null);
  assert.equal(buffer.segmentCount, 0);
});

test('SendBuffer frees acknowledged data and resends only what was lost and not acknowledged', () => {
  const buffer = new SendBuffer();
  buffer.append(Buffer.from('0123456789'));
  buffer.append(Buffer.from('abcdefghij'));
  buffer.end();
  buffer.nextOffset = 20;
  buffer.onAcked(10, 5, false);
  buffer.onLost(0, 20, true);
  // Lost [0, 20) minus acknowledged [10, 15).
  assert.deepEqual(ranges(buffer.lost), [[0, 10], [15, 20]]);
  assert.equal(buffer.finPending, true);
  const out = Buffer.alloc(7);
  buffer.copy(7, 7, out, 0);
  assert.equal(out.toString(), '789abcd');
  buffer.onAcked(0, 10, false);
  assert.equal(buffer.ackedPrefix, 15);
  assert.equal(buffer.buffered, 5);
  assert.deepEqual(ranges(buffer.lost), [[15, 20]]);
  buffer.onAcked(15, 5, true);
  assert.equal(buffer.allAcked, true);
  assert.equal(buffer.buffered, 0);
});

test('AckTracker acknowledges out-of-order packets at once and in-order ones after a delay', () => {
  const acks = new AckTracker();
  acks.onPacketReceived(0, true, 0);
  assert.equal(acks.mustSendAck(0), false);
  assert.equal(acks.mustSendAck(5), true, 'after max_ack_delay');
  acks.onAckSent();
  acks.onPacketReceived(1, true, 6);
  acks.onPacketReceived(3, true, 6); // gap: packet 2 missing
  assert.equal(acks.mustSendAck(6), true);
  assert.equal(acks.buildRanges(), 2);
  assert.deepEqual(acks.ranges, [3, 3, 1, 0]);
  assert.equal(acks.isDuplicate(1), true);
  acks.onAckAcknowledged([1, 0]); // an ACK frame that reported packets 0-1 was acknowledged
  assert.equal(acks.buildRanges(), 1);
  assert.deepEqual(acks.ranges, [3, 3]);
});

test('the memory link impairs deterministically for a seed, and close reaches the peer after in-flight data', { timeout: TEST_TIMEOUT_MS }, async () => {
  const run = async (): Promise<{ got: number[]; stats: object }> => {
    const [a, b] = createMemoryLinkPair({ lossRate: 0.3, duplicateRate: 0.2, reorderRate: 0.2, seed: 9 });
    const got: number[] = [];
    b.onDatagram((d) => got.push(d[0] as number));
    const closed = new Promise<void>((resolve) => b.onClose(() => resolve()));
    for (let i = 0; i < 100; i++) a.send(Uint8Array.of(i));
    a.close();
    await closed;
    return { got, stats: { ...a.stats } };
  };
  const first = await run();
  const second = await run();
  // Which datagrams are dropped, duplicated or delayed depends only on the seed (the exact
  // arrival order also depends on timing, so it is compared as a multiset).
  assert.deepEqual(second.stats, first.stats);
  assert.deepEqual([...second.got].sort((x, y) => x - y), [...first.got].sort((x, y) => x - y));
  assert.ok(first.got.length > 50 && first.got.length < 110, `${first.got.length} delivered`);
  assert.notDeepEqual(first.got, [...first.got].sort((x, y) => x - y), 'some were reordered');
  const [a] = createMemoryLinkPair();
  assert.throws(() => a.send(new Uint8Array(1161)), RangeError);
  a.close();
});

test('an idle connection keeps none of the packets it sent (no buffer of datagram size per idle session)', { timeout: TEST_TIMEOUT_MS }, async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // 8,000-byte packets: each is a buffer of its own (Node pools only buffers under 4 KiB), so a WeakRef tells whether anything still holds it.
  const pair = connectPair({ maxDatagramSize: 8000, seed: 5 }, { keepAliveIntervalMs: 0 }, { keepAliveIntervalMs: 0 });
  const sent: WeakRef<ArrayBufferLike>[] = [];
  for (const link of [pair.clientLink, pair.serverLink]) {
    const send = link.send.bind(link);
    link.send = (datagram: Uint8Array): void => {
      sent.push(new WeakRef(datagram.buffer));
      send(datagram);
    };
  }
  try {
    const incoming = nextStream(pair.server);
    const stream = pair.client.openStream();
    stream.on('error', () => undefined); // the pair is closed with the streams' other halves open
    const data = patternBytes(300_000, 3);
    const [, received] = await Promise.all([
      writeAll(stream, data).then(() => stream.end()),
      incoming.then((serverStream) => {
        serverStream.on('error', () => undefined);
        return readAll(serverStream);
      }),
    ]);
    assert.equal(received.length, data.length);
    await waitFor('nothing in flight either way', () => pair.client.stats().bytesInFlight === 0 && pair.server.stats().bytesInFlight === 0);
    assert.ok(sent.length > 20, `${sent.length} packets sent`);
    // A WeakRef's target lives at least to the end of the turn that made or read it.
    await nextTurn();
    gc();
    await nextTurn();
    gc();
    const held = sent.filter((ref) => ref.deref() !== undefined).length;
    assert.equal(held, 0, `${held} of ${sent.length} sent packet buffers still held by an idle connection pair`);
  } finally {
    pair.close();
  }
});
