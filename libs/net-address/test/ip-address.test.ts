import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIp, normalizeIp, parseIp, parseIpv4, parseIpv6, unmapIpv4 } from '../src/index.js';

test('IPv4: four decimal parts 0-255, no leading zeros, nothing else', () => {
  assert.deepEqual([...parseIpv4('192.168.0.1')!.bytes], [192, 168, 0, 1]);
  assert.deepEqual([...parseIpv4('0.0.0.0')!.bytes], [0, 0, 0, 0]);
  assert.deepEqual([...parseIpv4('255.255.255.255')!.bytes], [255, 255, 255, 255]);
  for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '1..3.4', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.-4', '0x1.2.3.4', '', 'unknown', '1.2.3.4:80']) {
    assert.equal(parseIpv4(bad), undefined, bad);
  }
});

test('IPv6: full, compressed, dotted tail, zone dropped; malformed refused', () => {
  assert.equal(formatIp(parseIpv6('2001:0db8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
  assert.equal(formatIp(parseIpv6('::')!), '::');
  assert.equal(formatIp(parseIpv6('::1')!), '::1');
  assert.equal(formatIp(parseIpv6('1::')!), '1::');
  assert.equal(formatIp(parseIpv6('FE80::1%eth0')!), 'fe80::1');
  assert.deepEqual([...parseIpv6('::ffff:10.1.2.3')!.bytes.slice(10)], [0xff, 0xff, 10, 1, 2, 3]);
  assert.deepEqual([...parseIpv6('1:2:3:4:5:6:7.8.9.10')!.bytes.slice(12)], [7, 8, 9, 10]);
  for (const bad of ['1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:', '12345::', 'g::1', '1:2:3:4:5:6:7::8', '::1.2.3', '::256.1.1.1', '[::1]', '', ':', `${'1:'.repeat(40)}1`]) {
    assert.equal(parseIpv6(bad), undefined, bad);
  }
});

test('canonical text follows RFC 5952: longest zero run, first on a tie, never a single group', () => {
  assert.equal(formatIp(parseIp('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
  assert.equal(formatIp(parseIp('2001:db8:0:1:1:1:1:1')!), '2001:db8:0:1:1:1:1:1');
  assert.equal(formatIp(parseIp('2001:0:0:1:0:0:0:1')!), '2001:0:0:1::1');
  assert.equal(formatIp(parseIp('::ffff:1.2.3.4')!), '::ffff:1.2.3.4');
});

test('normalizeIp: one spelling per address; IPv4-mapped becomes IPv4; garbage is undefined', () => {
  assert.equal(normalizeIp('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeIp('::FFFF:7f00:1'), '127.0.0.1');
  assert.equal(normalizeIp('2001:DB8::0:1'), '2001:db8::1');
  assert.equal(normalizeIp('10.0.0.1'), '10.0.0.1');
  assert.equal(normalizeIp('unknown'), undefined);
  assert.equal(normalizeIp('_hidden'), undefined);
  assert.equal(unmapIpv4(parseIp('::1')!).family, 6);
});
