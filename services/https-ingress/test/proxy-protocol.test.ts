/**
 * The PROXY protocol header parser (haproxy proxy-protocol.txt): v1 text and v2 binary,
 * fed whole and one byte at a time, and everything a receiver must refuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProxyHeader, MAX_PROXY_V2_HEADER_BYTES, PROXY_V1_MAX_BYTES, PROXY_V2_SIGNATURE, type ProxyHeaderParse } from '../src/index.js';

/** A v2 header (§2.2): version 2, `command`, `family`/`transport` nibbles, then `body` (addresses, TLVs). */
function v2(command: number, family: number, transport: number, body: Buffer, lengthOverride?: number): Buffer {
  const fixed = Buffer.from([0x20 | command, (family << 4) | transport, 0, 0]);
  fixed.writeUInt16BE(lengthOverride ?? body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, body]);
}

function ports(source: number, destination: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(source, 0);
  b.writeUInt16BE(destination, 2);
  return b;
}

/** A TLV (§2.2): type, 16-bit length, value. */
function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.from([type, 0, 0]);
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

const V4_ADDRESSES = Buffer.concat([Buffer.from([198, 51, 100, 23]), Buffer.from([203, 0, 113, 1]), ports(51234, 443)]);
const V6_ADDRESSES = Buffer.concat([
  Buffer.from('20010db8000000000000000000000023', 'hex'),
  Buffer.from('20010db8000000000000000000000001', 'hex'),
  ports(40000, 8443),
]);
const TLVS = Buffer.concat([tlv(0x01, Buffer.from('h2')), tlv(0x04, Buffer.alloc(5)), tlv(0xea, Buffer.from('\x01vpce-0123456789abcdef', 'latin1'))]);
const PAYLOAD = Buffer.from('\x16\x03\x01 then TLS bytes');

function complete(parsed: ProxyHeaderParse): Extract<ProxyHeaderParse, { status: 'complete' }> {
  assert.equal(parsed.status, 'complete', JSON.stringify(parsed));
  return parsed as Extract<ProxyHeaderParse, { status: 'complete' }>;
}

function invalid(bytes: Buffer | string): string {
  const parsed = parseProxyHeader(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  assert.equal(parsed.status, 'invalid', `${JSON.stringify(bytes.toString())}: ${JSON.stringify(parsed)}`);
  return (parsed as { reason: string }).reason;
}

/** Every proper prefix is `incomplete`; the whole header followed by data is `complete` with the header's length. */
function assertIncremental(header: Buffer): void {
  for (let n = 0; n < header.length; n++) assert.deepEqual(parseProxyHeader(header.subarray(0, n)), { status: 'incomplete' }, `prefix of ${n} bytes`);
  assert.equal(complete(parseProxyHeader(Buffer.concat([header, PAYLOAD]))).length, header.length);
}

test('v1 TCP4 and TCP6: ends, length, the data after it untouched', () => {
  const line = Buffer.from('PROXY TCP4 198.51.100.23 203.0.113.1 51234 443\r\n', 'latin1');
  const v4 = complete(parseProxyHeader(Buffer.concat([line, PAYLOAD])));
  assert.deepEqual(v4.header, { version: 1, command: 'proxy', source: { address: '198.51.100.23', port: 51234 }, destination: { address: '203.0.113.1', port: 443 } });
  assert.equal(v4.length, line.length);
  const v6 = complete(parseProxyHeader(Buffer.from('PROXY TCP6 2001:DB8::23 2001:db8:0:0:0:0:0:1 40000 8443\r\nGET /', 'latin1')));
  assert.deepEqual(v6.header.source, { address: '2001:db8::23', port: 40000 });
  assert.deepEqual(v6.header.destination, { address: '2001:db8::1', port: 8443 });
  const mapped = complete(parseProxyHeader(Buffer.from('PROXY TCP6 ::ffff:198.51.100.23 ::1 1 65535\r\n', 'latin1')));
  assert.equal(mapped.header.source?.address, '198.51.100.23');
  assert.equal(mapped.header.destination?.port, 65535);
});

test('v1 UNKNOWN: accepted with no addresses (the connection\'s own count), whatever follows it on the line', () => {
  for (const text of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff:f::f ffff:f::f 65535 65535\r\n', 'PROXY UNKNOWN garbage here\r\n']) {
    const parsed = complete(parseProxyHeader(Buffer.from(`${text}rest`, 'latin1')));
    assert.deepEqual(parsed.header, { version: 1, command: 'proxy' });
    assert.equal(parsed.length, text.length);
  }
});

test('v1 fed one byte at a time', () => {
  assertIncremental(Buffer.from('PROXY TCP4 198.51.100.23 203.0.113.1 51234 443\r\n', 'latin1'));
  assertIncremental(Buffer.from('PROXY TCP6 2001:db8::23 2001:db8::1 40000 8443\r\n', 'latin1'));
  // The longest line §2.1 allows is accepted.
  const longest = `PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`;
  assert.equal(longest.length, PROXY_V1_MAX_BYTES);
  assertIncremental(Buffer.from(longest, 'latin1'));
});

test('v1 refused: malformed lines, bad addresses and ports, lone CR or LF, no CRLF within 107 bytes', () => {
  for (const bad of [
    'PROXY TCP5 198.51.100.23 203.0.113.1 1 2\r\n',
    'PROXY tcp4 198.51.100.23 203.0.113.1 1 2\r\n',
    'PROXY TCP4 198.51.100.23 203.0.113.1 1\r\n',
    'PROXY TCP4 198.51.100.23 203.0.113.1 1 2 3\r\n',
    'PROXY TCP4  198.51.100.23 203.0.113.1 1 2\r\n',
    'PROXY TCP4 198.51.100.023 203.0.113.1 1 2\r\n',
    'PROXY TCP4 2001:db8::1 203.0.113.1 1 2\r\n',
    'PROXY TCP6 198.51.100.23 2001:db8::1 1 2\r\n',
    'PROXY TCP4 198.51.100.23 203.0.113.1 65536 2\r\n',
    'PROXY TCP4 198.51.100.23 203.0.113.1 01 2\r\n',
    'PROXY TCP4 198.51.100.23 203.0.113.1 -1 2\r\n',
    'PROXY TCP4 198.51.100.23 203.0.113.1 1 2\n',
    'PROXY TCP4 198.51.100.23 203.0.113.1 1 2\rX',
    'PROXY TCP4 198.51.100.23 203.0.113.1 1 2 \r\n',
    'PROXY TCP4 198.51.100.23\x00203.0.113.1 1 2\r\n',
    'PROXY\r\n',
    'PROXY \r\n',
  ]) {
    invalid(bad);
  }
  // Oversized: 107 bytes without a CRLF are refused without waiting for more.
  assert.match(invalid(`PROXY UNKNOWN ${'x'.repeat(PROXY_V1_MAX_BYTES)}`), /no CRLF within 107 bytes/);
  assert.match(invalid(`PROXY UNKNOWN ${'x'.repeat(PROXY_V1_MAX_BYTES - 15)}\r\n`), /longer than 107 bytes/);
  assert.deepEqual(parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(PROXY_V1_MAX_BYTES - 15)}`, 'latin1')), { status: 'incomplete' });
});

test('anything else is refused from its first bytes: TLS, HTTP, garbage', () => {
  assert.match(invalid(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])), /not a PROXY protocol header/);
  invalid('GET / HTTP/1.1\r\n');
  invalid('PROXZ');
  invalid('proxy TCP4');
  invalid(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b]));
  assert.deepEqual(parseProxyHeader(Buffer.alloc(0)), { status: 'incomplete' });
  assert.deepEqual(parseProxyHeader(Buffer.from('PRO')), { status: 'incomplete' });
  assert.deepEqual(parseProxyHeader(PROXY_V2_SIGNATURE.subarray(0, 7)), { status: 'incomplete' });
});

test('v2 PROXY over IPv4 and IPv6, TLVs skipped', () => {
  const inet = v2(0x1, 0x1, 0x1, Buffer.concat([V4_ADDRESSES, TLVS]));
  const parsed4 = complete(parseProxyHeader(Buffer.concat([inet, PAYLOAD])));
  assert.deepEqual(parsed4.header, { version: 2, command: 'proxy', source: { address: '198.51.100.23', port: 51234 }, destination: { address: '203.0.113.1', port: 443 } });
  assert.equal(parsed4.length, inet.length);
  const inet6 = v2(0x1, 0x2, 0x1, V6_ADDRESSES);
  const parsed6 = complete(parseProxyHeader(inet6));
  assert.deepEqual(parsed6.header, { version: 2, command: 'proxy', source: { address: '2001:db8::23', port: 40000 }, destination: { address: '2001:db8::1', port: 8443 } });
  assert.equal(parsed6.length, 16 + 36);
  const mapped = Buffer.concat([Buffer.from('00000000000000000000ffffc6336417', 'hex'), Buffer.from('00000000000000000000000000000001', 'hex'), ports(1, 2)]);
  assert.equal(complete(parseProxyHeader(v2(0x1, 0x2, 0x1, mapped))).header.source?.address, '198.51.100.23');
});

test('v2 fed one byte at a time', () => {
  assertIncremental(v2(0x1, 0x1, 0x1, Buffer.concat([V4_ADDRESSES, TLVS])));
  assertIncremental(v2(0x1, 0x2, 0x1, V6_ADDRESSES));
  assertIncremental(v2(0x0, 0x0, 0x0, Buffer.alloc(0)));
});

test('v2 LOCAL (a health check), UNSPEC, UNIX and UDP: accepted without addresses', () => {
  assert.deepEqual(complete(parseProxyHeader(v2(0x0, 0x0, 0x0, Buffer.alloc(0)))).header, { version: 2, command: 'local' });
  // §2.2: a LOCAL header's address block, whatever its family, is skipped.
  const local = complete(parseProxyHeader(Buffer.concat([v2(0x0, 0x1, 0x1, V4_ADDRESSES), PAYLOAD])));
  assert.deepEqual(local.header, { version: 2, command: 'local' });
  assert.equal(local.length, 16 + V4_ADDRESSES.length);
  assert.deepEqual(complete(parseProxyHeader(v2(0x1, 0x0, 0x0, Buffer.alloc(0)))).header, { version: 2, command: 'proxy' });
  assert.deepEqual(complete(parseProxyHeader(v2(0x1, 0x3, 0x1, Buffer.alloc(216)))).header, { version: 2, command: 'proxy' });
  assert.deepEqual(complete(parseProxyHeader(v2(0x1, 0x1, 0x2, V4_ADDRESSES))).header, { version: 2, command: 'proxy' });
});

test('v2 refused: version, command, family, transport, short address block, oversized', () => {
  const good = v2(0x1, 0x1, 0x1, V4_ADDRESSES);
  const withByte = (index: number, value: number): Buffer => {
    const copy = Buffer.from(good);
    copy[index] = value;
    return copy;
  };
  assert.match(invalid(withByte(12, 0x11)), /version/);
  assert.match(invalid(withByte(12, 0x31)), /version/);
  assert.match(invalid(withByte(12, 0x22)), /command/);
  assert.match(invalid(withByte(13, 0x41)), /family or transport/);
  assert.match(invalid(withByte(13, 0x13)), /family or transport/);
  assert.match(invalid(v2(0x1, 0x1, 0x1, V4_ADDRESSES.subarray(0, 11))), /shorter/);
  assert.match(invalid(v2(0x1, 0x2, 0x1, V4_ADDRESSES)), /shorter/);
  // Oversized: refused on the 16 fixed bytes, before any of the announced length arrives.
  assert.match(invalid(v2(0x1, 0x1, 0x1, Buffer.alloc(0), MAX_PROXY_V2_HEADER_BYTES - 15)), /more than 4096/);
  assert.match(invalid(v2(0x1, 0x1, 0x1, Buffer.alloc(0), 0xffff)), /more than/);
  const largest = v2(0x1, 0x1, 0x1, Buffer.concat([V4_ADDRESSES, tlv(0x04, Buffer.alloc(MAX_PROXY_V2_HEADER_BYTES - 16 - V4_ADDRESSES.length - 3))]));
  assert.equal(largest.length, MAX_PROXY_V2_HEADER_BYTES);
  assert.equal(complete(parseProxyHeader(largest)).length, MAX_PROXY_V2_HEADER_BYTES);
});
