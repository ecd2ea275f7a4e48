/**
 * The ingress with a file certificate (the default) and a short periodic re-read: names
 * without a Redis certificate get the file one; a certificate replaced in Redis without any
 * broadcast is served within one re-read period, even when edited by hand (HSET of the PEMs
 * alone); bad records fall back to the file certificate; Redis down keeps what is cached.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack, waitFor } from '@hopgate/testkit';
import { CertControl, handshake, serialOf } from './cert-helpers.js';

/** HOPGATE_CERT_REREAD_INTERVAL_MS of this file's ingress, in ms. */
const REREAD_MS = 1_000;
/** A change must be served within this many ms: the re-read period plus slack for a shared machine (below the 5 s negative cache, which plays no part here: the names are cached with a certificate). */
const REREAD_DEADLINE_MS = REREAD_MS * 4;

let stack: Stack;
let control: CertControl;
let ca: string;
let fileSerial: string;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-ingress-reread-'));
  stack = await Stack.start({ dir, ingressEnv: { HOPGATE_CERT_REREAD_INTERVAL_MS: String(REREAD_MS) } });
  ca = fs.readFileSync(stack.ca.certFile, 'utf8');
  fileSerial = serialOf(stack.ingressCert.certPem);
  control = await CertControl.open(stack);
});

after(async () => {
  await control?.close();
  await stack?.stop();
});

/** Handshakes until the served serial is `serial` (or the deadline passes); returns the time it took. */
async function servedWithin(name: string, serial: string, deadlineMs: number): Promise<number> {
  const started = Date.now();
  await waitFor(`${name} served with serial ${serial}`, async () => (await handshake(stack.httpsPort, name, ca)).serial.toLowerCase() === serial.toLowerCase(), deadlineMs);
  return Date.now() - started;
}

test('a name without a Redis certificate gets the default file certificate; so does a client without SNI', async () => {
  const seen = await handshake(stack.httpsPort, 'app.hopgate.test', ca);
  assert.equal(seen.serial, fileSerial);
  assert.equal(seen.authorized, true);
  assert.equal((await handshake(stack.httpsPort, undefined, undefined)).serial, fileSerial);
});

test('a certificate replaced in Redis without a broadcast is served within the re-read period', async () => {
  const name = 'reread.hopgate.test';
  const first = await control.put(name, stack.ca.issue('reread-1', [name]));
  assert.equal((await handshake(stack.httpsPort, name, ca)).serial.toLowerCase(), first.serial!.toLowerCase());
  const second = await control.put(name, stack.ca.issue('reread-2', [name]));
  const took = await servedWithin(name, second.serial!, REREAD_DEADLINE_MS);
  assert.ok(took < REREAD_DEADLINE_MS);
});

test('a certificate edited by hand (HSET chain_pem and key_pem only, serial field stale) is noticed too', async () => {
  const name = 'byhand.hopgate.test';
  const first = await control.put(name, stack.ca.issue('byhand-1', [name]));
  assert.equal((await handshake(stack.httpsPort, name, ca)).serial.toLowerCase(), first.serial!.toLowerCase());
  const replacement = stack.ca.issue('byhand-2', [name]);
  await control.redis.hset(`hopgate:cert:${name}`, { chain_pem: replacement.certPem, key_pem: replacement.keyPem });
  await servedWithin(name, serialOf(replacement.certPem), REREAD_DEADLINE_MS);
});

test('a garbage record and an expired one fall back to the file certificate, with a log line', async () => {
  await control.redis.hset('hopgate:cert:garbage.hopgate.test', { chain_pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', key_pem: 'x' });
  assert.equal((await handshake(stack.httpsPort, 'garbage.hopgate.test', ca)).serial, fileSerial);
  await stack.ingress.waitForLog('garbage logged', (r) => r['server_name'] === 'garbage.hopgate.test' && r.msg === 'tls: certificate record unusable: not served (falling back)');
  await control.put('old.hopgate.test', stack.ca.issue('old', ['old.hopgate.test'], { days: -1 }));
  assert.equal((await handshake(stack.httpsPort, 'old.hopgate.test', ca)).serial, fileSerial);
  await stack.ingress.waitForLog('expired logged', (r) => r['server_name'] === 'old.hopgate.test' && r.msg === 'tls: stored certificate expired: not served (falling back)');
});

test('Redis down: a cached certificate is still served, an unknown name gets the default; logged', async () => {
  const name = 'cached.hopgate.test';
  const record = await control.put(name, stack.ca.issue('cached', [name]));
  assert.equal((await handshake(stack.httpsPort, name, ca)).serial.toLowerCase(), record.serial!.toLowerCase());
  // The last test of the file: Redis stays down (the stack's stop tolerates it).
  await stack.redis.stop();
  // A re-read period with Redis away: the cached certificate stays.
  await stack.ingress.waitForLog('re-read failure logged', (r) => String(r.msg).startsWith('tls: periodic certificate re-read failed'), REREAD_DEADLINE_MS * 2);
  assert.equal((await handshake(stack.httpsPort, name, ca)).serial.toLowerCase(), record.serial!.toLowerCase());
  assert.equal((await handshake(stack.httpsPort, 'unknown.hopgate.test', ca)).serial, fileSerial);
  await stack.ingress.waitForLog('lookup failure logged', (r) => r['server_name'] === 'unknown.hopgate.test' && String(r.msg).startsWith('tls: certificate lookup in redis failed'));
  assert.equal(stack.ingress.exited, false);
});
