import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisKeys, NatsSubjects, escapeGlob } from '../src/index.js';

test('redis keys follow the documented layout', () => {
  const k = new RedisKeys();
  assert.equal(k.route('app.example.com'), 'hopgate:route:app.example.com');
  assert.equal(k.route('*.example.com'), 'hopgate:route:*.example.com');
  assert.equal(k.hostOfRouteKey('hopgate:route:*.example.com'), '*.example.com');
  assert.equal(k.hostOfRouteKey('hopgate:client:x'), undefined);
  assert.equal(k.client('laptop'), 'hopgate:client:laptop');
  assert.equal(k.session('laptop'), 'hopgate:session:laptop');
  assert.equal(k.routeScanPattern, 'hopgate:route:*');
  assert.equal(new RedisKeys('t1:').route('a'), 't1:route:a');
  assert.equal(escapeGlob('a*b?[c]'), 'a\\*b\\?\\[c\\]');
  assert.equal(k.routeKeyspacePattern(0), '__keyspace@0__:hopgate:route:*');
  assert.equal(k.clientKeyspacePattern(2), '__keyspace@2__:hopgate:client:*');
  assert.equal(new RedisKeys('a*b:').clientKeyspacePattern(0), '__keyspace@0__:a\\*b:client:*');
  assert.equal(k.keyOfKeyspaceChannel(2, '__keyspace@2__:hopgate:client:laptop'), 'hopgate:client:laptop');
  assert.equal(k.keyOfKeyspaceChannel(0, '__keyspace@2__:hopgate:client:laptop'), undefined);
  assert.equal(k.fallback('*.example.com'), 'hopgate:fallback:*.example.com');
  assert.equal(k.hostOfFallbackKey('hopgate:fallback:app.example.com'), 'app.example.com');
  assert.equal(k.hostOfFallbackKey('hopgate:route:app.example.com'), undefined);
  assert.equal(k.fallbackScanPattern, 'hopgate:fallback:*');
  assert.equal(k.page('maintenance'), 'hopgate:page:maintenance');
  assert.deepEqual(k.fallbackKeyspacePatterns(3), ['__keyspace@3__:hopgate:fallback:*', '__keyspace@3__:hopgate:page:*']);
});

test('nats subjects are single tokens per id', () => {
  const s = new NatsSubjects();
  assert.equal(s.hub('hub-1'), 'hopgate.hub.hub-1');
  assert.equal(s.hub('a.b c'), 'hopgate.hub.a_b_c');
  assert.equal(s.ingress('i1'), 'hopgate.ingress.i1');
});
