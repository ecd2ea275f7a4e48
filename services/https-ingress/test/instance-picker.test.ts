import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstancePicker, instanceKeyOf } from '../src/instance-picker.js';

const a = { instanceId: 'nas-a', hubId: 'hub-1', epoch: 3 };
const b = { instanceId: 'nas-b', hubId: 'hub-2', epoch: 4 };

test('InstancePicker: the instance with the fewest streams in flight from this ingress; a released stream counts no more', () => {
  const picker = new InstancePicker();
  const releaseA = picker.acquire(instanceKeyOf('nas', a));
  assert.equal(picker.pick('nas', [a, b]), b);
  const releaseB1 = picker.acquire(instanceKeyOf('nas', b));
  const releaseB2 = picker.acquire(instanceKeyOf('nas', b));
  assert.equal(picker.pick('nas', [a, b]), a);
  releaseB1();
  releaseB1(); // idempotent: one stream, one release
  assert.equal(picker.load(instanceKeyOf('nas', b)), 1);
  releaseA();
  releaseB2();
  assert.equal(picker.load(instanceKeyOf('nas', a)), 0);
  assert.equal(picker.load(instanceKeyOf('nas', b)), 0);
});

test('InstancePicker: ties are broken at random, so idle replicas share sequential requests', () => {
  const picker = new InstancePicker();
  const counts = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const chosen = picker.pick('nas', [a, b])!;
    counts.set(chosen.instanceId, (counts.get(chosen.instanceId) ?? 0) + 1);
  }
  assert.ok((counts.get('nas-a') ?? 0) > 100 && (counts.get('nas-b') ?? 0) > 100, `both chosen: ${JSON.stringify([...counts])}`);
});

test('InstancePicker: an excluded session is never chosen; the same instance on a new hub or epoch is another session', () => {
  const picker = new InstancePicker();
  const exclude = new Set([instanceKeyOf('nas', a)]);
  for (let i = 0; i < 50; i++) assert.equal(picker.pick('nas', [a, b], exclude), b);
  assert.equal(picker.pick('nas', [a], exclude), undefined);
  const moved = { ...a, hubId: 'hub-2', epoch: 9 };
  assert.equal(picker.pick('nas', [moved], exclude), moved);
  assert.equal(picker.pick('nas', []), undefined);
});
