import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairsFromRaw, stripHopByHop, withForwardedHeaders } from '../src/index.js';

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

test('forwarded headers replace spoofed values at the edge', () => {
  const out = withForwardedHeaders(
    [['host', 'app.example.com'], ['x-forwarded-for', '6.6.6.6'], ['x-forwarded-proto', 'gopher']],
    { clientIp: '203.0.113.9', proto: 'https', host: 'app.example.com' },
  );
  assert.deepEqual(out, [
    ['host', 'app.example.com'],
    ['x-forwarded-for', '203.0.113.9'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-host', 'app.example.com'],
  ]);
  const trusted = withForwardedHeaders([['x-forwarded-for', '10.0.0.1']], { clientIp: '10.0.0.2', proto: 'http', host: 'h' }, true);
  assert.deepEqual(trusted[0], ['x-forwarded-for', '10.0.0.1, 10.0.0.2']);
});
