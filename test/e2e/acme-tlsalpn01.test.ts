/**
 * TLS-ALPN-01 (RFC 8737) with real pebble validation. The ingress's own TLS-ALPN-01 answering
 * is built elsewhere; here a minimal responder in the test serves exactly what the
 * cert-manager put in Redis (`hopgate:acme:tlsalpn01:<name>`), as every ingress will.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { ChallengeStore } from '@hopgate/certs';
import { RedisKeys } from '@hopgate/keys';
import { Stack, startPebble, type RunningPebble } from '@hopgate/testkit';
import { assertIssuedFor, certManagerEnv, waitValid } from './acme-helpers.js';

const NAME = 'alpn.acme.test';
/** RFC 8737 §6.2: the ALPN protocol id of the challenge. */
const ACME_TLS_ALPN = 'acme-tls/1';

let stack: Stack;
let pebble: RunningPebble;
let redis: Redis;
let responder: tls.Server;
const handshakes: Array<{ servername: string; alpn: string | false | null }> = [];

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-acme-alpn-'));
  stack = await Stack.start({ dir, hubs: 0 });
  redis = new Redis(stack.redis.url);
  const challenges = new ChallengeStore(redis, new RedisKeys());
  responder = tls.createServer({
    ALPNProtocols: [ACME_TLS_ALPN],
    SNICallback: (servername, cb) => {
      challenges.getTlsAlpn01(servername).then(
        (material) => cb(material ? null : new Error(`no challenge for ${servername}`), material ? tls.createSecureContext({ cert: material.certPem, key: material.keyPem }) : undefined),
        (err: Error) => cb(err),
      );
    },
  });
  responder.on('secureConnection', (socket) => {
    handshakes.push({ servername: (socket as tls.TLSSocket & { servername?: string }).servername ?? '', alpn: socket.alpnProtocol });
    socket.end();
  });
  responder.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => responder.listen(0, '127.0.0.1', () => resolve()));
  pebble = await startPebble({ dir: path.join(dir, 'pebble'), tlsPort: (responder.address() as AddressInfo).port });
  await stack.startCertManager(certManagerEnv(pebble, { HOPGATE_ACME_DOMAINS: NAME, HOPGATE_ACME_CHALLENGE: 'tls-alpn-01' }));
});

after(async () => {
  redis?.disconnect();
  await stack?.stop();
  await pebble?.stop();
  await new Promise<void>((resolve) => (responder ? responder.close(() => resolve()) : resolve()));
});

test('tls-alpn-01: the challenge certificate from Redis satisfies pebble; the certificate is issued and the material removed', async () => {
  const record = await waitValid(redis, NAME, 20_000);
  assertIssuedFor(record, NAME, await pebble.rootPem());
  assert.ok(handshakes.length >= 1, 'pebble connected');
  assert.ok(handshakes.every((h) => h.servername === NAME && h.alpn === ACME_TLS_ALPN), JSON.stringify(handshakes));
  assert.equal(await redis.exists(new RedisKeys().acmeTlsAlpn01(NAME)), 0, 'challenge material deleted after the order');
});
