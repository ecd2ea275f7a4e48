import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthThrottle, AUTH_FAILURE_BURST, AUTH_FAILURE_REFILL_INTERVAL_MS, AUTH_THROTTLE_LOG_INTERVAL_MS } from '../src/auth-throttle.js';
import { throttleAddressOf } from '../src/throttle-address.js';

/** A hand-driven clock, in ms. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('a burst of failures is checked, the next attempt is refused unchecked, one credit returns per refill interval', () => {
  const c = clock();
  const throttle = new AuthThrottle({ now: c.now });
  for (let i = 0; i < AUTH_FAILURE_BURST; i++) assert.deepEqual(throttle.admit('192.0.2.1'), { admitted: true }, `attempt ${i + 1}`);
  const refused = throttle.admit('192.0.2.1');
  assert.deepEqual(refused, { admitted: false, log: { refused: 1 } });
  c.advance(AUTH_FAILURE_REFILL_INTERVAL_MS - 1);
  assert.equal(throttle.admit('192.0.2.1').admitted, false);
  c.advance(1);
  assert.equal(throttle.admit('192.0.2.1').admitted, true, 'one credit back after the refill interval');
  assert.equal(throttle.admit('192.0.2.1').admitted, false);
  // Other addresses are never affected.
  assert.equal(throttle.admit('192.0.2.2').admitted, true);
});

test('successes give their credit back: a busy NAT address with good logins is never throttled', () => {
  const c = clock();
  const throttle = new AuthThrottle({ now: c.now });
  for (let i = 0; i < AUTH_FAILURE_BURST * 10; i++) {
    assert.equal(throttle.admit('198.51.100.7').admitted, true, `login ${i + 1}`);
    throttle.refund('198.51.100.7');
  }
  // Concurrent attempts cannot overdraw: each takes its credit before it is checked.
  for (let i = 0; i < AUTH_FAILURE_BURST; i++) assert.equal(throttle.admit('198.51.100.7').admitted, true);
  assert.equal(throttle.admit('198.51.100.7').admitted, false);
});

test('throttled attempts are logged at most once per interval, with the count since the last line', () => {
  const c = clock();
  const throttle = new AuthThrottle({ now: c.now, burst: 1, refillIntervalMs: 3_600_000 });
  assert.equal(throttle.admit('a').admitted, true);
  assert.deepEqual(throttle.admit('a'), { admitted: false, log: { refused: 1 } });
  for (let i = 0; i < 5; i++) assert.deepEqual(throttle.admit('a'), { admitted: false, log: undefined });
  c.advance(AUTH_THROTTLE_LOG_INTERVAL_MS);
  assert.deepEqual(throttle.admit('a'), { admitted: false, log: { refused: 6 } });
});

test('the address map is bounded: the least recently seen address is forgotten', () => {
  const throttle = new AuthThrottle({ maxAddresses: 3, burst: 1, refillIntervalMs: 3_600_000 });
  for (const a of ['a', 'b', 'c']) throttle.admit(a);
  assert.equal(throttle.admit('a').admitted, false); // a is now the most recently seen
  throttle.admit('d'); // forgets b
  assert.equal(throttle.size, 3);
  assert.equal(throttle.admit('b').admitted, true, 'b was forgotten: a fresh bucket'); // forgets c
  assert.equal(throttle.admit('a').admitted, false, 'a was kept');
});

test('throttle address: the IP of ip:port; IPv4-mapped as IPv4; IPv6 by its /64', () => {
  assert.equal(throttleAddressOf('127.0.0.1:5000'), '127.0.0.1');
  assert.equal(throttleAddressOf('[::ffff:192.0.2.9]:443'), '192.0.2.9');
  assert.equal(throttleAddressOf('[2001:db8:1:2:3:4:5:6]:1'), '2001:db8:1:2::/64');
  assert.equal(throttleAddressOf('[2001:db8:1:2::99]:1'), '2001:db8:1:2::/64');
  assert.equal(throttleAddressOf('[2001:0DB8:0001:0002::1]:1'), '2001:db8:1:2::/64');
  assert.equal(throttleAddressOf('[2001:db8::1]:1'), '2001:db8:0:0::/64');
  assert.equal(throttleAddressOf('[::1]:9'), '0:0:0:0::/64');
  assert.equal(throttleAddressOf('[fe80::1%eth0]:9'), 'fe80:0:0:0::/64');
  assert.equal(throttleAddressOf('[64:ff9b::192.0.2.1]:9'), '64:ff9b:0:0::/64');
});
