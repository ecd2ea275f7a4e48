/**
 * TLS-ALPN-01 (RFC 8737) on the ingress's HTTPS port: a ClientHello offering `acme-tls/1`
 * for a name with a challenge in Redis gets the challenge certificate and `acme-tls/1`, and
 * the connection is closed after the handshake (RFC 8737 §4); ordinary clients of the same
 * name at the same time get the real certificate. Garbage and stalled ClientHellos are
 * closed without harm.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Stack } from '@hopgate/testkit';
import { startOrigin, type Origin } from './helpers.js';
import { CertControl, handshake, opensslClient, firstPem, makeAlpnChallengeCert } from './cert-helpers.js';

/** The ingress's HOPGATE_TLS_HANDSHAKE_TIMEOUT_MS (10 s by default) plus slack, in ms: a stalled ClientHello is closed before this. */
const STALLED_CLOSE_DEADLINE_MS = 15_000;
/** Challenge TTL in Redis, in ms: longer than this file runs. */
const CHALLENGE_TTL_MS = 120_000;
/** RFC 8737 §3: the acmeIdentifier extension's OID. */
const ACME_IDENTIFIER_OID_DER = Buffer.from('06082b0601050507011f', 'hex');

const NAME = 'chal.hopgate.test';

let stack: Stack;
let web: Origin;
let control: CertControl;
let ca: string;
let challenge: { certPem: string; keyPem: string; digestHex: string };
let realSerial: string;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-tls-alpn-'));
  stack = await Stack.start({ dir });
  ca = fs.readFileSync(stack.ca.certFile, 'utf8');
  control = await CertControl.open(stack);
  web = await startOrigin('web');
  const token = await stack.addClient('laptop');
  await stack.setRoute(NAME, '/', 'laptop/web');
  await stack.startAgent({ clientId: 'laptop', token, services: { web: web.address } });
  realSerial = (await control.put(NAME, stack.ca.issue('chal-real', [NAME]))).serial!;
  challenge = makeAlpnChallengeCert(path.join(dir, 'alpn'), NAME, 'token.thumbprint');
  await control.challenges.putTlsAlpn01(NAME, challenge.certPem, challenge.keyPem, CHALLENGE_TTL_MS);
});

after(async () => {
  await control?.close();
  await stack?.stop();
  await web?.close();
});

/** An acme-tls/1 handshake as an ACME validation server makes it; resolves with the certificate and whether the server closed after it. */
function validate(name: string): Promise<{ alpn: string | false; der: Buffer; fingerprint256: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: stack.httpsPort, servername: name, ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false });
    let result: { alpn: string | false; der: Buffer; fingerprint256: string } | undefined;
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      result = { alpn: socket.alpnProtocol ?? false, der: peer.raw, fingerprint256: peer.fingerprint256 };
    });
    socket.on('data', () => reject(new Error('application data after a TLS-ALPN-01 handshake (RFC 8737 §4)')));
    socket.once('end', () => {
      if (result) resolve({ ...result, closedByServer: true });
    });
    socket.once('error', reject);
    socket.once('close', () => {
      if (!result) reject(new Error('closed before the handshake finished'));
    });
  });
}

test('acme-tls/1 with a stored challenge: the challenge certificate, acme-tls/1 negotiated, closed by the server (node)', async () => {
  const seen = await validate(NAME);
  assert.equal(seen.alpn, 'acme-tls/1');
  assert.equal(seen.fingerprint256, new crypto.X509Certificate(challenge.certPem).fingerprint256);
  assert.ok(seen.der.includes(ACME_IDENTIFIER_OID_DER), 'the certificate carries the acmeIdentifier extension');
  assert.ok(seen.der.includes(Buffer.from(challenge.digestHex, 'hex')), 'with the key authorization digest');
  assert.equal(seen.closedByServer, true);
  await stack.ingress.waitForLog('answer logged', (r) => r.msg === 'acme tls-alpn-01: challenge answered' && r['server_name'] === NAME);
});

test('acme-tls/1 with a stored challenge: openssl s_client sees the challenge certificate and ALPN acme-tls/1', async () => {
  const out = await opensslClient(['-connect', `127.0.0.1:${stack.httpsPort}`, '-servername', NAME, '-alpn', 'acme-tls/1', '-showcerts']);
  assert.match(out.output, /ALPN protocol: acme-tls\/1/);
  const pem = firstPem(out.output);
  assert.ok(pem, out.output);
  assert.equal(new crypto.X509Certificate(pem).fingerprint256, new crypto.X509Certificate(challenge.certPem).fingerprint256);
});

test('ordinary clients of the same name at the same time get the real certificate (h2 and http/1.1)', async () => {
  const [acme, h1, h2, again] = await Promise.all([
    validate(NAME),
    handshake(stack.httpsPort, NAME, ca, { alpn: ['http/1.1'] }),
    handshake(stack.httpsPort, NAME, ca, { alpn: ['h2', 'http/1.1'] }),
    validate(NAME),
  ]);
  assert.equal(acme.alpn, 'acme-tls/1');
  assert.equal(again.alpn, 'acme-tls/1');
  assert.equal(h1.serial.toLowerCase(), realSerial.toLowerCase());
  assert.equal(h1.authorized, true);
  assert.equal(h2.serial.toLowerCase(), realSerial.toLowerCase());
  assert.equal(h2.alpn, 'h2');
});

test('acme-tls/1 for a name without a challenge: refused with no_application_protocol (RFC 7301 §3.2)', async () => {
  await assert.rejects(validate('nochallenge.hopgate.test'), { code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' });
  await stack.ingress.waitForLog('logged', (r) => r.msg === 'acme tls-alpn-01: no challenge stored for this name' && r['server_name'] === 'nochallenge.hopgate.test');
});

/** Opens a raw TCP connection, writes `bytes`, resolves with the time until the server closed it. */
function closedAfter(bytes: Buffer, deadlineMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(stack.httpsPort, '127.0.0.1', () => socket.write(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the ingress kept the connection open for ${deadlineMs} ms`));
    }, deadlineMs);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

test('garbage first bytes are closed at once; half a ClientHello then silence is closed at the timeout; the ingress lives on', async () => {
  const tookGarbage = await closedAfter(Buffer.from('GET / HTTP/1.1\r\nHost: chal.hopgate.test\r\n\r\n'), 5_000);
  assert.ok(tookGarbage < 5_000);
  await closedAfter(crypto.randomBytes(512).fill(0x17, 0, 1), 5_000);
  // The first 100 bytes of a real ClientHello, then nothing.
  const capture = await new Promise<Buffer>((resolve) => {
    const server = net.createServer((s) => s.once('data', (d: Buffer) => {
      resolve(d);
      s.destroy();
      server.close();
    }));
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      tls.connect({ host: '127.0.0.1', port, servername: NAME }).on('error', () => undefined);
    });
  });
  const half = capture.subarray(0, 100);
  const tookStalled = await closedAfter(half, STALLED_CLOSE_DEADLINE_MS);
  assert.ok(tookStalled >= 5_000, `closed after ${tookStalled} ms: a slow client deserves its timeout`);
  assert.equal(stack.ingress.exited, false);
  assert.equal((await handshake(stack.httpsPort, NAME, ca)).serial.toLowerCase(), realSerial.toLowerCase());
});
