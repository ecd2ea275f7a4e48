import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { HopError, ErrorCode } from '@hopgate/errors';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyServerChain, probeDatagramSizesForMtu, isLoopbackRemote, smallestInterfaceMtu, PROBE_DATAGRAM_SIZES_BYTES } from '../src/index.js';
import { parseClientHello } from '../src/client-hello.js';
import { CookieAuthority, encodeHelloVerifyRequest } from '../src/cookie.js';
import { ContentType, parseRecords } from '../src/record.js';
import { ReplayWindow } from '../src/replay-window.js';
import { loadServerCredentials, parsePemCertificates } from '../src/server-credentials.js';
import { makeTestPki, TEST_SERVER_NAME, type TestPki } from '../test-support/certs.js';
import { cookieFromHelloVerifyRequest, rawClientHello } from '@hopgate/testkit';

describe('ReplayWindow (RFC 6347 §4.1.2.6)', () => {
  test('accepts new records, drops duplicates and records older than 64', () => {
    const window = new ReplayWindow();
    assert.equal(window.accept(0), true);
    assert.equal(window.accept(0), false);
    assert.equal(window.accept(5), true);
    assert.equal(window.accept(3), true, 'late but inside the window');
    assert.equal(window.accept(3), false);
    assert.equal(window.accept(1_000), true, 'far ahead slides the window');
    assert.equal(window.check(1_000 - 63), true);
    assert.equal(window.check(1_000 - 64), false, 'older than the window');
    assert.equal(window.accept(999), true);
    assert.equal(window.accept(999), false);
    assert.equal(window.check(2 ** 48 - 1), true);
  });
});

describe('record framing', () => {
  test('parses several records per datagram and refuses bad framing', () => {
    const hello = rawClientHello();
    const two = Buffer.concat([hello, hello]);
    assert.equal(parseRecords(two)?.length, 2);
    assert.equal(parseRecords(Buffer.alloc(12, 22)), null);
    assert.equal(parseRecords(Buffer.alloc(0)), null);
    assert.equal(parseRecords(hello.subarray(0, hello.length - 1)), null, 'truncated');
    const badType = Buffer.from(hello);
    badType[0] = 99;
    assert.equal(parseRecords(badType), null);
    const badVersion = Buffer.from(hello);
    badVersion.writeUInt16BE(0x0303, 1);
    assert.equal(parseRecords(badVersion), null, 'TLS, not DTLS');
  });
});

describe('stateless cookie (RFC 6347 §4.2.1)', () => {
  test('binds address, port and hello parameters; expires after two time slots', () => {
    let now = 1_000_000_000;
    const authority = new CookieAuthority(randomBytes(32), () => now);
    const random = randomBytes(32);
    const record = parseRecords(rawClientHello({ random }))?.[0];
    assert.ok(record);
    const bare = parseClientHello(record);
    assert.ok(bare);
    const cookie = authority.make('10.0.0.1', 4000, bare);
    const withCookie = parseClientHello(parseRecords(rawClientHello({ random, cookie, recordSequence: 1 }))?.[0] ?? record);
    assert.ok(withCookie);
    assert.equal(authority.verify('10.0.0.1', 4000, withCookie), true);
    assert.equal(authority.verify('10.0.0.1', 4001, withCookie), false, 'other port');
    assert.equal(authority.verify('10.0.0.2', 4000, withCookie), false, 'other address');
    const otherRandom = parseClientHello(parseRecords(rawClientHello({ cookie }))?.[0] ?? record);
    assert.ok(otherRandom);
    assert.equal(authority.verify('10.0.0.1', 4000, otherRandom), false, 'other hello');
    assert.equal(new CookieAuthority(randomBytes(32), () => now).verify('10.0.0.1', 4000, withCookie), false, 'other secret');
    now += 30_000;
    assert.equal(authority.verify('10.0.0.1', 4000, withCookie), true, 'previous slot still valid');
    now += 30_000;
    assert.equal(authority.verify('10.0.0.1', 4000, withCookie), false, 'expired');
  });

  test('HelloVerifyRequest echoes the ClientHello record number and carries the cookie', () => {
    const record = parseRecords(rawClientHello({ recordSequence: 7 }))?.[0];
    assert.ok(record);
    const hello = parseClientHello(record);
    assert.ok(hello);
    const cookie = randomBytes(32);
    const hvr = encodeHelloVerifyRequest(hello, cookie);
    const parsed = parseRecords(hvr)?.[0];
    assert.equal(parsed?.type, ContentType.Handshake);
    assert.equal(parsed?.sequence, 7);
    assert.equal(parsed?.version, 0xfeff);
    assert.deepEqual(cookieFromHelloVerifyRequest(hvr), cookie);
  });
});

describe('certificates', () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => pki.cleanup());

  const der = (pem: string): Buffer[] => parsePemCertificates(pem).map((cert) => cert.raw);

  test('verifyServerChain: good chain, missing intermediate, wrong name, IP name, pinned self-signed leaf', () => {
    const trusted = parsePemCertificates(pki.caPem);
    assert.equal(verifyServerChain(der(pki.ecdsa.certPem), { serverName: TEST_SERVER_NAME, trusted }), null);
    assert.equal(verifyServerChain(der(pki.ecdsa.certPem), { serverName: '127.0.0.1', trusted }), null);
    assert.match(verifyServerChain(der(pki.ecdsa.certPem).slice(0, 1), { serverName: TEST_SERVER_NAME, trusted }) ?? '', /not signed by a trusted CA/);
    assert.match(verifyServerChain(der(pki.ecdsa.certPem), { serverName: 'evil.test', trusted }) ?? '', /not valid for the name/);
    assert.match(verifyServerChain(der(pki.ecdsa.certPem), { serverName: '127.0.0.2', trusted }) ?? '', /not valid for the name/);
    assert.match(verifyServerChain([], { serverName: TEST_SERVER_NAME, trusted }) ?? '', /no certificate/);
    const future = new Date(Date.now() + 365 * 24 * 3600 * 1000);
    assert.match(verifyServerChain(der(pki.ecdsa.certPem), { serverName: TEST_SERVER_NAME, trusted, now: future }) ?? '', /expired/);
    const pinned = parsePemCertificates(pki.rsa.certPem);
    assert.equal(verifyServerChain(der(pki.rsa.certPem), { serverName: TEST_SERVER_NAME, trusted: pinned }), null);
  });

  test('loadServerCredentials: SEC1 and PKCS#1 keys become PKCS#8; mismatches are BadConfig', () => {
    const ecdsa = loadServerCredentials(pki.ecdsa.certPem, pki.ecdsa.keyPem);
    assert.match(pki.ecdsa.keyPem, /BEGIN EC PRIVATE KEY/);
    assert.match(ecdsa.keyPkcs8Pem, /BEGIN PRIVATE KEY/);
    assert.deepEqual(ecdsa.signatureHash, { hash: 4, signature: 3 });
    assert.equal(parsePemCertificates(ecdsa.certChainPem).length, 2);
    const pkcs1 = createPrivateKey(pki.rsa.keyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
    const rsa = loadServerCredentials(pki.rsa.certPem, pkcs1);
    assert.deepEqual(rsa.signatureHash, { hash: 4, signature: 1 });
    assert.ok(rsa.leaf instanceof X509Certificate);
    assert.throws(() => loadServerCredentials('', pki.rsa.keyPem), (err: unknown) => err instanceof HopError && err.code === ErrorCode.BadConfig);
    assert.throws(() => loadServerCredentials(pki.rsa.certPem, 'not a key'), (err: unknown) => err instanceof HopError && err.code === ErrorCode.BadConfig);
  });
});

test('path MTU candidates: every size to a loopback peer; to others what the smallest interface MTU carries whole, at most 1452 B', () => {
  assert.deepEqual(probeDatagramSizesForMtu('127.0.0.1:4433', 1500), PROBE_DATAGRAM_SIZES_BYTES);
  assert.deepEqual(probeDatagramSizesForMtu('[::1]:4433', undefined), PROBE_DATAGRAM_SIZES_BYTES);
  assert.deepEqual(probeDatagramSizesForMtu('203.0.113.7:4433', 1500), [1452 - 37]);
  assert.deepEqual(probeDatagramSizesForMtu('[2001:db8::1]:4433', 9000), [1452 - 37], 'jumbo frames locally say nothing of the path');
  assert.deepEqual(probeDatagramSizesForMtu('203.0.113.7:4433', 1400), [1400 - 48 - 37], 'a 1400-byte interface: no fragment leaves');
  assert.deepEqual(probeDatagramSizesForMtu('203.0.113.7:4433', undefined), [], 'MTU unknown: the base size only');
  assert.equal(isLoopbackRemote('10.0.0.1:1'), false);
});

test('the smallest interface MTU is read from sysfs, loopback and down interfaces aside', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-sysnet-'));
  const iface = (name: string, mtu: number, state: string): void => {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'mtu'), `${mtu}\n`);
    fs.writeFileSync(path.join(dir, name, 'operstate'), `${state}\n`);
  };
  iface('lo', 65536, 'unknown');
  iface('eth0', 1450, 'up');
  iface('eth1', 1280, 'down');
  iface('tun0', 1420, 'unknown');
  assert.equal(smallestInterfaceMtu(dir), 1420);
  assert.equal(smallestInterfaceMtu(path.join(dir, 'missing')), undefined);
});
