/**
 * The ingress with no file certificate: every certificate comes from Redis, chosen by SNI
 * (RFC 6066 §3), swapped live on `hopgate.cert.updated`. The periodic re-read is set to
 * 10 minutes here, so what these tests see comes from the broadcast and the short negative
 * cache alone (the re-read has its own file: ingress-certs-reread.test.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import { Stack, waitFor } from '@hopgate/testkit';
import { startOrigin, type Origin } from './helpers.js';
import { curl } from './edge-helpers.js';
import { CertControl, handshake, serialOf, opensslClient } from './cert-helpers.js';

/** HOPGATE_CERT_REREAD_INTERVAL_MS of this file's ingress: far beyond the test's length. */
const REREAD_OFF_MS = 600_000;
/** The ingress's negative cache (NEGATIVE_CERT_CACHE_TTL_MS, 5 s) plus slack for a shared machine, in ms. */
const NEGATIVE_PICKUP_DEADLINE_MS = 9_000;

const APP = 'app.certs.test';

let stack: Stack;
let web: Origin;
let control: CertControl;
let ca: string;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-ingress-certs-'));
  stack = await Stack.start({ dir, ingressFileCert: false, ingressEnv: { HOPGATE_CERT_REREAD_INTERVAL_MS: String(REREAD_OFF_MS) } });
  ca = fs.readFileSync(stack.ca.certFile, 'utf8');
  control = await CertControl.open(stack);
  web = await startOrigin('web');
  const token = await stack.addClient('laptop');
  await stack.setRoute(APP, '/', 'laptop/web');
  await stack.startAgent({ clientId: 'laptop', token, services: { web: web.address } });
  await control.put(APP, stack.ca.issue('app-1', [APP]));
});

after(async () => {
  await control?.close();
  await stack?.stop();
  await web?.close();
});

test('the Redis certificate of a name is served to it; a request returns the origin answer (curl and node)', async () => {
  const record = (await control.store.get(APP)) as { ok: true; record: { serial: string } };
  const seen = await handshake(stack.httpsPort, APP, ca);
  assert.equal(seen.authorized, true, 'the chain verifies against the dev CA');
  assert.equal(seen.serial, serialOf(fs.readFileSync(path.join(stack.dir, 'pki', 'app-1.pem'), 'utf8')));
  assert.equal(seen.serial.toLowerCase(), record.record.serial.toLowerCase());
  const res = await curl(['-sS', '--cacert', stack.ca.certFile, '--resolve', `${APP}:${stack.httpsPort}:127.0.0.1`, `https://${APP}:${stack.httpsPort}/hello`]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, 'hello from web\n');
});

test('HTTP/2 with a Redis certificate: ALPN h2 (node http2 client and openssl -alpn h2)', async () => {
  const session = http2.connect(`https://127.0.0.1:${stack.httpsPort}`, { ca, servername: APP });
  try {
    const body = await new Promise<string>((resolve, reject) => {
      session.once('error', reject);
      const req = session.request({ ':path': '/hello', ':authority': APP });
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => resolve(text));
      req.on('error', reject);
    });
    assert.equal(body, 'hello from web\n');
    assert.equal(session.alpnProtocol, 'h2');
  } finally {
    session.close();
  }
  const out = await opensslClient(['-connect', `127.0.0.1:${stack.httpsPort}`, '-servername', APP, '-alpn', 'h2', '-CAfile', stack.ca.certFile]);
  assert.match(out.output, /ALPN protocol: h2/);
  assert.match(out.output, /Verify return code: 0 \(ok\)/);
});

test('a new certificate in Redis + hopgate.cert.updated is served to the next handshake, no restart', async () => {
  const before = await handshake(stack.httpsPort, APP, ca);
  const from = stack.ingress.records.length;
  const record = await control.put(APP, stack.ca.issue('app-2', [APP]));
  assert.notEqual(record.serial, before.serial.toLowerCase());
  await control.broadcast(record);
  await stack.ingress.waitForLog('new certificate loaded', (r) => r.msg === 'tls: certificate loaded' && String(r['serial']).toLowerCase() === record.serial!.toLowerCase(), 10_000, from);
  const after = await handshake(stack.httpsPort, APP, ca);
  assert.equal(after.serial.toLowerCase(), record.serial!.toLowerCase());
  const res = await curl(['-sS', '--cacert', stack.ca.certFile, '--resolve', `${APP}:${stack.httpsPort}:127.0.0.1`, `https://${APP}:${stack.httpsPort}/hello`]);
  assert.equal(res.stdout, 'hello from web\n');
});

test('a name without a certificate (and no file certificate): unrecognized_name alert, logged once; the ingress lives on', async () => {
  for (let i = 0; i < 3; i++) {
    await assert.rejects(handshake(stack.httpsPort, 'nocert.certs.test', ca), { code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' });
  }
  const out = await opensslClient(['-connect', `127.0.0.1:${stack.httpsPort}`, '-servername', 'nocert.certs.test']);
  assert.match(out.output, /unrecognized name/);
  await stack.ingress.waitForLog('the refusal', (r) => r['server_name'] === 'nocert.certs.test' && String(r.msg).includes('no certificate for nocert.certs.test'));
  assert.equal(stack.ingress.countLogs((r) => r['server_name'] === 'nocert.certs.test' && String(r.msg).includes('no certificate for')), 1, 'rate-limited per name');
  assert.equal(stack.ingress.exited, false);
  assert.equal((await handshake(stack.httpsPort, APP, ca)).authorized, true, 'other names still work');
});

test('a client without SNI and no file certificate: missing_extension alert (RFC 8446 §9.2)', async () => {
  await assert.rejects(handshake(stack.httpsPort, undefined, undefined), (err: Error & { code?: string }) => {
    assert.match(err.code ?? '', /MISSING_EXTENSION/);
    return true;
  });
  assert.equal(stack.ingress.exited, false);
});

test('a wildcard record serves one label below it, not two', async () => {
  const record = await control.put('*.wild.certs.test', stack.ca.issue('wild', ['*.wild.certs.test']));
  const seen = await handshake(stack.httpsPort, 'a.wild.certs.test', ca);
  assert.equal(seen.serial.toLowerCase(), record.serial!.toLowerCase());
  assert.equal(seen.authorized, true);
  await assert.rejects(handshake(stack.httpsPort, 'b.a.wild.certs.test', ca), { code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' });
  // An exact record wins over the wildcard.
  const exact = await control.put('exact.wild.certs.test', stack.ca.issue('exact-wild', ['exact.wild.certs.test']));
  assert.equal((await handshake(stack.httpsPort, 'exact.wild.certs.test', ca)).serial.toLowerCase(), exact.serial!.toLowerCase());
});

test('a certificate stored without its broadcast is found once the negative cache entry lapses', async () => {
  const name = 'late.certs.test';
  await assert.rejects(handshake(stack.httpsPort, name, ca), { code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' });
  const record = await control.put(name, stack.ca.issue('late', [name]));
  const started = Date.now();
  const seen = await waitFor('the stored certificate served', async () => {
    try {
      return await handshake(stack.httpsPort, name, ca);
    } catch {
      return undefined;
    }
  }, NEGATIVE_PICKUP_DEADLINE_MS);
  assert.equal(seen.serial.toLowerCase(), record.serial!.toLowerCase());
  assert.ok(Date.now() - started < NEGATIVE_PICKUP_DEADLINE_MS);
});

test('garbage and expired records are not served: alert, one log line each, the process stays up', async () => {
  await control.redis.hset('hopgate:cert:garbage.certs.test', { chain_pem: 'not a certificate', key_pem: 'not a key', status: 'valid' });
  await assert.rejects(handshake(stack.httpsPort, 'garbage.certs.test', ca), { code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' });
  await stack.ingress.waitForLog('garbage logged', (r) => r['server_name'] === 'garbage.certs.test' && r.msg === 'tls: certificate record unusable: not served (falling back)');
  await control.put('expired.certs.test', stack.ca.issue('expired', ['expired.certs.test'], { days: -1 }));
  await assert.rejects(handshake(stack.httpsPort, 'expired.certs.test', ca), { code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' });
  await stack.ingress.waitForLog('expired logged', (r) => r['server_name'] === 'expired.certs.test' && r.msg === 'tls: stored certificate expired: not served (falling back)');
  assert.equal(stack.ingress.exited, false);
  assert.equal((await handshake(stack.httpsPort, APP, ca)).authorized, true);
});
