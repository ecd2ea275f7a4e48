import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AckTracker } from '../src/ack-tracker.js';
import { MAX_ACK_RANGES } from '../src/constants.js';

/** The ranges of the next ACK frame, as flat [largest, smallest] pairs. */
function nextAck(acks: AckTracker): number[] {
  const count = acks.buildRanges();
  acks.onAckSent();
  return acks.ranges.slice(0, 2 * count);
}

/** Every packet number the ranges cover. */
function covered(ranges: readonly number[]): Set<number> {
  const out = new Set<number>();
  for (let i = 0; i < ranges.length; i += 2) for (let pn = ranges[i + 1]!; pn <= ranges[i]!; pn++) out.add(pn);
  return out;
}

test('an acknowledged ACK frame confirms only the ranges it carried: lower ranges it left out are still reported', () => {
  const acks = new AckTracker();
  // Every other packet: 40 ranges, more than one ACK frame carries.
  const received: number[] = [];
  for (let pn = 0; pn < 80; pn += 2) {
    acks.onPacketReceived(pn, true, 0);
    received.push(pn);
  }
  const first = nextAck(acks);
  assert.equal(first.length, 2 * MAX_ACK_RANGES);
  acks.onAckAcknowledged(first);
  // The peer learned of the highest 32; the lowest 8 are reported next, not forgotten.
  acks.onPacketReceived(81, true, 1);
  const second = nextAck(acks);
  const reported = new Set([...covered(first), ...covered(second)]);
  for (const pn of received) assert.ok(reported.has(pn), `packet ${pn} was never reported`);
  for (const pn of received) assert.ok(acks.isDuplicate(pn), `packet ${pn} is not recognised as a duplicate`);
});

test('a packet that arrives after an ACK was sent is reported even when that ACK is acknowledged', () => {
  const acks = new AckTracker();
  for (const pn of [0, 1, 2, 4, 5]) acks.onPacketReceived(pn, true, 0);
  const first = nextAck(acks); // [5,4] [2,0]
  acks.onPacketReceived(3, true, 1); // late: fills the gap after the ACK went out
  acks.onAckAcknowledged(first);
  assert.ok(acks.hasNewInfo);
  const second = nextAck(acks);
  assert.ok(covered(second).has(3), `packet 3 missing from ${JSON.stringify(second)}`);
  assert.ok(acks.isDuplicate(3) && acks.isDuplicate(0) && acks.isDuplicate(5));
  // Confirmed in turn, nothing is left to report and everything below counts as a duplicate.
  acks.onAckAcknowledged(second);
  assert.equal(acks.buildRanges(), 0);
  acks.onPacketReceived(6, true, 2);
  assert.deepEqual(nextAck(acks), [6, 6]);
});

test('the ACK delay is measured from the arrival of the largest packet and is zero for a frame led by a lower one', () => {
  const acks = new AckTracker();
  acks.onPacketReceived(0, true, 0);
  acks.onPacketReceived(2, true, 10);
  assert.equal(acks.buildRanges(), 2);
  assert.equal(acks.ackDelayUs(12), 2000);
  acks.onAckSent();
  acks.onAckAcknowledged([2, 2]);
  acks.onPacketReceived(1, true, 20);
  acks.buildRanges();
  assert.deepEqual(acks.ranges, [1, 0]);
  assert.equal(acks.ackDelayUs(25), 0);
});
