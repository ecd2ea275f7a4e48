import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HeaderPairs } from '@hopgate/wire';
import { AddressSet } from '@hopgate/net-address';
import { entryAddress, forwardedElement, isForwardingHeader, requestClient, withForwardedHeaders, type Arrival } from '../src/index.js';

function trusted(list: string): AddressSet {
  const set = AddressSet.parse(list);
  assert.ok(set instanceof AddressSet);
  return set;
}

/** Every forwarding header a client could send to lie about itself. */
const SPOOFED: HeaderPairs = [
  ['forwarded', 'for=6.6.6.6;proto=https;host=evil.example'],
  ['x-forwarded-for', '6.6.6.6'],
  ['x-forwarded-for', '6.6.6.7'],
  ['x-forwarded-proto', 'https'],
  ['x-forwarded-host', 'evil.example'],
  ['x-forwarded-port', '1'],
  ['x-forwarded-prefix', '/admin'],
  ['x-forwarded-ssl', 'on'],
  ['x-real-ip', '6.6.6.6'],
  ['true-client-ip', '6.6.6.6'],
  ['x-client-ip', '6.6.6.6'],
  ['cf-connecting-ip', '6.6.6.6'],
];

const untrustedArrival: Arrival = { peerIp: '203.0.113.9', proto: 'http', port: 80, trustedProxies: AddressSet.EMPTY };

test('from an untrusted peer every forwarding header is replaced by what the ingress saw', () => {
  const headers: HeaderPairs = [['host', 'app.example.com'], ['accept', '*/*'], ...SPOOFED];
  const client = requestClient(headers, untrustedArrival);
  assert.deepEqual(client, { clientIp: '203.0.113.9', forwardedFor: '203.0.113.9', proto: 'http', port: 80 });
  assert.deepEqual(withForwardedHeaders(headers, client, 'app.example.com'), [
    ['host', 'app.example.com'],
    ['accept', '*/*'],
    ['x-forwarded-for', '203.0.113.9'],
    ['x-forwarded-proto', 'http'],
    ['x-forwarded-host', 'app.example.com'],
    ['x-forwarded-port', '80'],
    ['x-real-ip', '203.0.113.9'],
    ['forwarded', 'for=203.0.113.9;proto=http;host=app.example.com'],
  ]);
});

test('forwarding header names: the issue list, every x-forwarded-*, nothing else', () => {
  for (const [name] of SPOOFED) assert.ok(isForwardingHeader(name), name);
  assert.ok(isForwardingHeader('x-forwarded-anything'));
  for (const name of ['host', 'x-forwardedfor', 'x-request-id', 'via', 'authorization']) assert.ok(!isForwardingHeader(name), name);
});

test('Forwarded (RFC 7239): IPv6 quoted and bracketed (§6), a host with a port quoted, unknown client (§6.2)', () => {
  const v6 = requestClient([], { ...untrustedArrival, peerIp: '2001:DB8::0:1', proto: 'https', port: 443 });
  assert.equal(v6.clientIp, '2001:db8::1');
  assert.equal(forwardedElement(v6, 'app.example.com:8443'), 'for="[2001:db8::1]";proto=https;host="app.example.com:8443"');
  assert.equal(forwardedElement({ clientIp: '', forwardedFor: '', proto: 'https', port: 0 }, 'h'), 'for=unknown;proto=https;host=h');
  assert.equal(forwardedElement(v6, 'a"b\\c'), 'for="[2001:db8::1]";proto=https;host="a\\"b\\\\c"');
  const mapped = requestClient([], { ...untrustedArrival, peerIp: '::ffff:198.51.100.4' });
  assert.equal(mapped.clientIp, '198.51.100.4', 'a dual-stack socket\'s IPv4-mapped peer is reported as IPv4');
  const none = withForwardedHeaders([], { clientIp: '', forwardedFor: '', proto: 'https', port: 0 }, 'h');
  assert.deepEqual(none.map(([n]) => n), ['x-forwarded-proto', 'x-forwarded-host', 'forwarded']);
});

test('a trusted peer: its X-Forwarded-For is kept and extended; the client is the right-most untrusted address', () => {
  const arrival: Arrival = { peerIp: '10.0.0.2', proto: 'https', port: 443, trustedProxies: trusted('10.0.0.0/8, 192.168.0.0/16') };
  const client = requestClient([['x-forwarded-for', '6.6.6.6, 198.51.100.7'], ['x-forwarded-for', '192.168.1.1']], arrival);
  assert.deepEqual(client, { clientIp: '198.51.100.7', forwardedFor: '6.6.6.6, 198.51.100.7, 192.168.1.1, 10.0.0.2', proto: 'https', port: 443 });
  const out = withForwardedHeaders([['x-forwarded-for', '6.6.6.6, 198.51.100.7'], ['x-real-ip', '6.6.6.6']], client, 'h.example');
  assert.deepEqual(out, [
    ['x-forwarded-for', '6.6.6.6, 198.51.100.7, 192.168.1.1, 10.0.0.2'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-host', 'h.example'],
    ['x-forwarded-port', '443'],
    ['x-real-ip', '198.51.100.7'],
    ['forwarded', 'for=198.51.100.7;proto=https;host=h.example'],
  ]);
  // No list: the trusted peer is the client (a health check from the load balancer).
  assert.equal(requestClient([], arrival).clientIp, '10.0.0.2');
  // Only trusted hops: the left-most one.
  assert.equal(requestClient([['x-forwarded-for', '10.1.1.1, 192.168.3.3']], arrival).clientIp, '10.1.1.1');
  // Garbage ends the walk at the trusted hop right of it.
  assert.equal(requestClient([['x-forwarded-for', '198.51.100.7, unknown, 10.9.9.9']], arrival).clientIp, '10.9.9.9');
  // Ports and brackets some proxies add.
  assert.equal(requestClient([['x-forwarded-for', '[2001:db8::7]:4711']], arrival).clientIp, '2001:db8::7');
  assert.equal(requestClient([['x-forwarded-for', '198.51.100.8:4711']], arrival).clientIp, '198.51.100.8');
});

test('a trusted peer: one valid X-Forwarded-Proto / X-Forwarded-Port kept; anything else is the ingress\'s own', () => {
  const arrival: Arrival = { peerIp: '::ffff:10.0.0.2', proto: 'http', port: 80, trustedProxies: trusted('10.0.0.0/8') };
  const kept = requestClient([['x-forwarded-proto', 'HTTPS'], ['x-forwarded-port', '443']], arrival);
  assert.equal(kept.proto, 'https');
  assert.equal(kept.port, 443);
  for (const [proto, port] of [['gopher', '0'], ['https, http', '443, 80'], ['', '99999'], ['https ftp', '08']] as const) {
    const own = requestClient([['x-forwarded-proto', proto], ['x-forwarded-port', port]], arrival);
    assert.equal(own.proto, 'http', proto);
    assert.equal(own.port, 80, port);
  }
  // The same headers from an untrusted peer count for nothing.
  const untrusted = requestClient([['x-forwarded-proto', 'https'], ['x-forwarded-port', '443'], ['x-forwarded-for', '198.51.100.7']], { ...arrival, peerIp: '203.0.113.1' });
  assert.deepEqual(untrusted, { clientIp: '203.0.113.1', forwardedFor: '203.0.113.1', proto: 'http', port: 80 });
});

test('X-Forwarded-For entries: addresses with and without ports; anything else is no address', () => {
  assert.equal(entryAddress('192.0.2.1'), '192.0.2.1');
  assert.equal(entryAddress('192.0.2.1:80'), '192.0.2.1');
  assert.equal(entryAddress('2001:db8::1'), '2001:db8::1');
  assert.equal(entryAddress('[2001:db8::1]'), '2001:db8::1');
  assert.equal(entryAddress('[2001:db8::1]:443'), '2001:db8::1');
  assert.equal(entryAddress('::ffff:192.0.2.1'), '192.0.2.1');
  for (const bad of ['unknown', '_proxy1', '[2001:db8::1', '[2001:db8::1]x', 'host:80', '192.0.2.1:http', '"192.0.2.1"', '']) {
    assert.equal(entryAddress(bad), undefined, bad);
  }
});
