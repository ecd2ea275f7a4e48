import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../src/backoff.js';

test('backoff doubles up to the cap, with jitter in [base/2, base]', () => {
  const low = new Backoff(500, 4000, () => 0);
  assert.deepEqual([low.next(), low.next(), low.next(), low.next(), low.next()], [250, 500, 1000, 2000, 2000]);
  const high = new Backoff(500, 4000, () => 1);
  assert.deepEqual([high.next(), high.next(), high.next(), high.next(), high.next()], [500, 1000, 2000, 4000, 4000]);
  high.reset();
  assert.equal(high.next(), 500);
  const rnd = new Backoff(100, 100_000);
  for (let i = 0; i < 50; i++) {
    const base = Math.min(100_000, 100 * 2 ** i);
    const d = rnd.next();
    assert.ok(d >= base / 2 - 1 && d <= base + 1, `attempt ${i}: ${d}`);
  }
});
