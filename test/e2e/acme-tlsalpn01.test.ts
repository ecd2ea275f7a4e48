/**
 * TLS-ALPN-01 (RFC 8737) with real pebble validation through the real https-ingress: pebble
 * validates on the ingress's HTTPS port (nothing listens on its HTTP-01 port, so HTTP-01
 * could not pass), the ingress answers from `hopgate:acme:tlsalpn01:<name>` in Redis, and
 * the issued certificate then serves the name through the whole tunnel, checked by curl
 * trusting only pebble's root.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { Stack, freeTcpPort, startPebble, waitFor, type RunningPebble } from '@hopgate/testkit';
import { assertIssuedFor, certManagerEnv, waitValid } from './acme-helpers.js';
import { handshake } from './cert-helpers.js';
import { curl } from './edge-helpers.js';
import { startOrigin, type Origin } from './helpers.js';

/** Time for the certificate to be ordered and validated by pebble, in ms. */
const ISSUE_TIMEOUT_MS = 20_000;
/** Time for the cert-manager to delete the challenge material once the order ended, in ms. */
const CLEANUP_TIMEOUT_MS = 10_000;
const NAME = 'alpn.acme.test';
/** RFC 8737 §6.2: the ALPN protocol id of the challenge. */
const ACME_TLS_ALPN = 'acme-tls/1';

const keys = new RedisKeys();
let stack: Stack;
let pebble: RunningPebble;
let redis: Redis;
let web: Origin;
let rootPem: string;
let rootFile: string;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-acme-alpn-'));
  // The hub keeps its dev-CA file certificate; the ingress has none and serves from Redis by SNI.
  stack = await Stack.start({ dir, ingressFileCert: false, ingressEnv: { HOPGATE_CERT_REREAD_INTERVAL_MS: '1000' } });
  // pebble's HTTP-01 port: a free port where nothing listens.
  pebble = await startPebble({ dir: path.join(dir, 'pebble'), tlsPort: stack.httpsPort, httpPort: await freeTcpPort() });
  rootPem = await pebble.rootPem();
  rootFile = path.join(dir, 'pebble-root.pem');
  fs.writeFileSync(rootFile, rootPem);
  redis = new Redis(stack.redis.url);
  web = await startOrigin('web');
  await stack.startCertManager(certManagerEnv(pebble, { HOPGATE_ACME_DOMAINS: NAME, HOPGATE_ACME_CHALLENGE: 'tls-alpn-01' }));
});

after(async () => {
  redis?.disconnect();
  await stack?.stop();
  await pebble?.stop();
  await web?.close();
});

test('tls-alpn-01: the ingress answers pebble from Redis, the certificate is issued, the material removed, curl trusting pebble\'s root reaches the origin', async () => {
  const record = await waitValid(redis, NAME, ISSUE_TIMEOUT_MS);
  assertIssuedFor(record, NAME, rootPem);
  const answered = await stack.ingress.waitForLog('tls-alpn-01 answered', (r) => r.msg === 'acme tls-alpn-01: challenge answered' && r['server_name'] === NAME);
  assert.equal(answered['alpn'], ACME_TLS_ALPN);
  assert.equal(stack.ingress.countLogs((r) => r.msg === 'acme http-01: challenge answered'), 0, 'no HTTP-01 involved');
  await waitFor('challenge material removed', async () => (await redis.exists(keys.acmeTlsAlpn01(NAME))) === 0, CLEANUP_TIMEOUT_MS);

  // The name now serves the issued chain through the whole tunnel.
  const token = await stack.addClient('laptop');
  await stack.startAgent({ clientId: 'laptop', token, services: { web: web.address } });
  const from = stack.ingress.records.length;
  await stack.setRoute(NAME, '/', 'laptop/web');
  await stack.ingress.waitForLog('route applied', (r) => r.msg === 'route table changed' && (r['added'] as string[]).some((a) => a.startsWith(NAME)), 10_000, from);
  const res = await curl(['-sS', '--max-time', '10', '--cacert', rootFile, '--resolve', `${NAME}:${stack.httpsPort}:127.0.0.1`, `https://${NAME}:${stack.httpsPort}/hello`]);
  assert.equal(res.code, 0, `curl failed: ${res.stderr}`);
  assert.equal(res.stdout, 'hello from web\n');
  const served = await handshake(stack.httpsPort, NAME, rootPem);
  assert.equal(served.serial, record.serial);
  assert.notEqual(served.alpn, ACME_TLS_ALPN, 'an ordinary handshake is not answered as a challenge');
});
