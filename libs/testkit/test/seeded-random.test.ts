import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../src/index.js';

test('SeededRandom: the same seed gives the same sequence; another seed another one', () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const c = new SeededRandom(43);
  const seqA = Array.from({ length: 16 }, () => a.next());
  assert.deepEqual(Array.from({ length: 16 }, () => b.next()), seqA);
  assert.notDeepEqual(Array.from({ length: 16 }, () => c.next()), seqA);
  // Pinned: a seed printed by an old run must replay the same cases after any change here.
  assert.equal(seqA[0], 0.6011037519201636);
  assert.equal(seqA[1], 0.44829055899754167);
  assert.ok(seqA.every((x) => x >= 0 && x < 1));
});

test('SeededRandom.forCase: a case depends on (seed, index) alone, and neighbouring cases differ', () => {
  const first = SeededRandom.forCase(7, 3).bytes(32);
  assert.deepEqual(SeededRandom.forCase(7, 3).bytes(32), first);
  assert.notDeepEqual(SeededRandom.forCase(7, 4).bytes(32), first);
  assert.notDeepEqual(SeededRandom.forCase(8, 3).bytes(32), first);
});

test('SeededRandom: int, between and pick stay in range and reach both ends', () => {
  const r = new SeededRandom(1);
  const seen = new Set<number>();
  for (let i = 0; i < 2_000; i++) {
    const v = r.between(3, 7);
    assert.ok(v >= 3 && v <= 7);
    seen.add(v);
    assert.ok(r.int(5) < 5);
  }
  assert.deepEqual([...seen].sort(), [3, 4, 5, 6, 7]);
  assert.throws(() => r.pick([]));
  const bytes = r.bytes(4_096);
  assert.equal(new Set(bytes).size, 256, 'every byte value appears in 4 KiB');
});
