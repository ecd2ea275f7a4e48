/** The hub's log throttle: one line per interval, the events in between counted into the next line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogThrottle } from '../src/index.js';

test('the first event logs, the rest of the interval is counted, the next line reports them', () => {
  let now = 0;
  const throttle = new LogThrottle(10_000, () => now);
  assert.equal(throttle.take(), 0);
  for (let i = 0; i < 5_000; i++) {
    now += 1;
    assert.equal(throttle.take(), undefined);
  }
  now = 10_000;
  assert.equal(throttle.take(), 5_000, 'the line after the interval carries the 5,000 unlogged');
  now = 10_001;
  assert.equal(throttle.take(), undefined);
  now = 40_000;
  assert.equal(throttle.take(), 1);
});
