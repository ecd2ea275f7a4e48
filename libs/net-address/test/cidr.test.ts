import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressSet, cidrContains, formatCidr, parseCidr, parseIp } from '../src/index.js';

function contains(cidr: string, address: string): boolean {
  return cidrContains(parseCidr(cidr)!, parseIp(address)!);
}

test('IPv4 ranges: prefix bits on and off byte boundaries, /0, /32', () => {
  assert.ok(contains('10.0.0.0/8', '10.255.1.2'));
  assert.ok(!contains('10.0.0.0/8', '11.0.0.0'));
  assert.ok(contains('192.168.16.0/20', '192.168.31.255'));
  assert.ok(!contains('192.168.16.0/20', '192.168.32.0'));
  assert.ok(!contains('192.168.16.0/20', '192.168.15.255'));
  assert.ok(contains('0.0.0.0/0', '203.0.113.9'));
  assert.ok(contains('203.0.113.9/32', '203.0.113.9'));
  assert.ok(!contains('203.0.113.9/32', '203.0.113.8'));
  assert.ok(contains('203.0.113.9', '203.0.113.9'), 'a bare address is a range of one');
  assert.ok(!contains('203.0.113.9', '203.0.113.10'));
});

test('IPv6 ranges, and IPv4-mapped addresses match IPv4 ranges (both ways)', () => {
  assert.ok(contains('2001:db8::/32', '2001:db8:ffff::1'));
  assert.ok(!contains('2001:db8::/32', '2001:db9::1'));
  assert.ok(contains('fd00::/7', 'fdff::1'));
  assert.ok(!contains('fd00::/7', 'fe00::1'));
  assert.ok(contains('::/0', '::1'));
  assert.ok(contains('::1', '::1'));
  assert.ok(contains('10.0.0.0/8', '::ffff:10.0.0.1'), 'a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d');
  assert.ok(!contains('10.0.0.0/8', '::ffff:11.0.0.1'));
  assert.ok(contains('::ffff:10.0.0.0/104', '10.9.9.9'), 'an IPv4-mapped range is the IPv4 range');
  assert.equal(formatCidr(parseCidr('::ffff:10.0.0.0/104')!), '10.0.0.0/8');
  assert.ok(!contains('::/0', '10.0.0.1'), 'an IPv6 range holds no IPv4 address');
  assert.ok(!contains('0.0.0.0/0', '::1'));
});

test('host bits are ignored; malformed ranges are refused', () => {
  assert.equal(formatCidr(parseCidr('10.1.2.3/8')!), '10.0.0.0/8');
  assert.equal(formatCidr(parseCidr('2001:db8::1/33')!), '2001:db8::/33');
  assert.equal(formatCidr(parseCidr('192.168.17.1/20')!), '192.168.16.0/20');
  for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/-1', '10.0.0.0/8/8', '10.0.0/8', 'example.com', '/8', '', '10.0.0.0/8 ', '*']) {
    assert.equal(parseCidr(bad), undefined, bad);
  }
});

test('AddressSet: comma list with blanks, first bad entry reported, text that is no address matches nothing', () => {
  const set = AddressSet.parse(' 10.0.0.0/8, 192.0.2.1 ,,2001:db8::/32 ');
  assert.ok(set instanceof AddressSet);
  assert.equal(set.toString(), '10.0.0.0/8,192.0.2.1/32,2001:db8::/32');
  assert.ok(set.contains('10.1.1.1'));
  assert.ok(set.contains('::ffff:10.1.1.1'));
  assert.ok(set.contains('192.0.2.1'));
  assert.ok(!set.contains('192.0.2.2'));
  assert.ok(set.contains('2001:db8::5'));
  assert.ok(!set.contains('unknown'));
  assert.ok(!set.contains(''));
  assert.deepEqual(AddressSet.parse('10.0.0.0/8,10.0.0.0/99,nope'), { invalidEntry: '10.0.0.0/99' });
  const empty = AddressSet.parse(' , ');
  assert.ok(empty instanceof AddressSet && empty.isEmpty);
  assert.ok(!AddressSet.EMPTY.contains('127.0.0.1'));
  assert.ok(!set.hasCatchAll);
  const any = AddressSet.parse('10.0.0.0/8,::/0');
  assert.ok(any instanceof AddressSet && any.hasCatchAll && any.contains('2001:db8::1') && !any.contains('192.0.2.1'));
});
