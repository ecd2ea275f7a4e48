import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSessionClaimed, decodeSessionClaimed, MAX_SESSION_CLAIMED_BYTES } from '../src/index.js';

const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'utf8'));

test('session.claimed round-trips in the documented JSON shape', () => {
  const msg = { client_id: 'laptop', epoch: 42, hub_id: 'hub-2' };
  const text = encodeSessionClaimed(msg);
  assert.equal(text, '{"client_id":"laptop","epoch":42,"hub_id":"hub-2"}');
  assert.deepEqual(decodeSessionClaimed(bytes(text)), msg);
  // Unknown fields are dropped, not refused (room to grow the message).
  assert.deepEqual(decodeSessionClaimed(bytes('{"client_id":"a","epoch":1,"hub_id":"h","extra":true}')), { client_id: 'a', epoch: 1, hub_id: 'h' });
});

test('session.claimed: anything else is ERR_BAD_FRAME', () => {
  const bad = [
    'not json',
    '[]',
    'null',
    '42',
    '{}',
    '{"client_id":"a","epoch":1}',
    '{"client_id":"","epoch":1,"hub_id":"h"}',
    '{"client_id":7,"epoch":1,"hub_id":"h"}',
    '{"client_id":"a","epoch":0,"hub_id":"h"}',
    '{"client_id":"a","epoch":-3,"hub_id":"h"}',
    '{"client_id":"a","epoch":1.5,"hub_id":"h"}',
    '{"client_id":"a","epoch":"9","hub_id":"h"}',
    '{"client_id":"a","epoch":1e300,"hub_id":"h"}',
    '{"client_id":"a","epoch":9007199254740993,"hub_id":"h"}',
    '{"client_id":"a","epoch":1,"hub_id":""}',
    `{"client_id":"${'x'.repeat(MAX_SESSION_CLAIMED_BYTES)}","epoch":1,"hub_id":"h"}`,
  ];
  for (const text of bad) assert.throws(() => decodeSessionClaimed(bytes(text)), { code: 'ERR_BAD_FRAME' }, text.slice(0, 60));
});

test('session.claimed names the instance when the agent has one; a bad instance_id is ERR_BAD_FRAME', () => {
  const msg = { client_id: 'nas', epoch: 7, hub_id: 'hub-1', instance_id: 'nas-b' };
  const text = encodeSessionClaimed(msg);
  assert.equal(text, '{"client_id":"nas","epoch":7,"hub_id":"hub-1","instance_id":"nas-b"}');
  assert.deepEqual(decodeSessionClaimed(bytes(text)), msg);
  assert.throws(() => decodeSessionClaimed(bytes('{"client_id":"a","epoch":1,"hub_id":"h","instance_id":5}')), { code: 'ERR_BAD_FRAME' });
  assert.throws(() => decodeSessionClaimed(bytes('{"client_id":"a","epoch":1,"hub_id":"h","instance_id":""}')), { code: 'ERR_BAD_FRAME' });
});
