import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairsFromRaw, stripHopByHop } from '../src/index.js';

test('hop-by-hop headers and those named in Connection are dropped; repeats kept apart', () => {
  const pairs = pairsFromRaw([
    'Host', 'app.example.com',
    'Connection', 'keep-alive, X-Secret',
    'Keep-Alive', 'timeout=5',
    'X-Secret', 's',
    'Transfer-Encoding', 'chunked',
    'TE', 'trailers',
    'Proxy-Authorization', 'Basic x',
    'Set-Cookie', 'a=1',
    'Set-Cookie', 'b=2',
    'Upgrade', 'websocket',
  ]);
  assert.deepEqual(stripHopByHop(pairs), [
    ['host', 'app.example.com'],
    ['set-cookie', 'a=1'],
    ['set-cookie', 'b=2'],
  ]);
  assert.ok(stripHopByHop(pairs, new Set(['upgrade'])).some(([n]) => n === 'upgrade'));
});
