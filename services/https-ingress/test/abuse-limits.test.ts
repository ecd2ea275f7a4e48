/**
 * The small pieces of the edge's abuse limits: the sliding-window counter of the rapid-reset
 * guard and the client address connections are counted by.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlidingWindowLimit, clientAddressOf } from '../src/index.js';

test('sliding window: the (limit + 1)th event within the window is over, events older than the window free room', () => {
  const limit = new SlidingWindowLimit(3, 1000);
  assert.deepEqual([0, 100, 200].map((t) => limit.hit(t)), [false, false, false]);
  assert.equal(limit.hit(999), true, '4 events within 1000 ms');
  // The window slides: the last 3 events kept are 100, 200, 999; at 1_200 the one at 100 is 1_100 ms old.
  assert.equal(limit.hit(1_200), false);
  assert.equal(limit.hit(2_300), false);
  assert.equal(limit.hit(2_301), false);
  assert.equal(limit.hit(2_302), false, 'the event at 1_200 is 1_102 ms old');
  assert.equal(limit.hit(2_303), true, '2_300..2_303: 4 events within 3 ms');
});

test('sliding window: a steady rate just under the limit never trips, one just over does', () => {
  const under = new SlidingWindowLimit(10, 1000);
  for (let t = 0; t < 60_000; t += 101) assert.equal(under.hit(t), false, `at ${t}`);
  const over = new SlidingWindowLimit(10, 1000);
  let tripped = false;
  for (let t = 0; t < 2_000 && !tripped; t += 99) tripped = over.hit(t);
  assert.equal(tripped, true);
  assert.throws(() => new SlidingWindowLimit(0, 1000), RangeError);
});

test('client address: the TCP peer, IPv4-mapped IPv6 as IPv4, undefined once gone', () => {
  assert.equal(clientAddressOf({ remoteAddress: '203.0.113.7' }), '203.0.113.7');
  assert.equal(clientAddressOf({ remoteAddress: '::ffff:203.0.113.7' }), '203.0.113.7');
  assert.equal(clientAddressOf({ remoteAddress: '2001:db8::1' }), '2001:db8::1');
  assert.equal(clientAddressOf({ remoteAddress: '::ffff:1' }), '::ffff:1');
  assert.equal(clientAddressOf({ remoteAddress: undefined }), undefined);
});
