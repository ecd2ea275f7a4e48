/**
 * CertificateContexts against a real redis-server: one Redis read per name for concurrent
 * handshakes, the negative cache, the broadcast invalidation, the size bound, name rules.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startRedis, createDevCa, waitFor, type RunningServer, type DevCa } from '@hopgate/testkit';
import { silentLogger } from '@hopgate/log';
import { RedisKeys } from '@hopgate/keys';
import { CertStore } from '@hopgate/certs';
import { CertificateContexts, normalizeServerName, wildcardOf } from '../src/index.js';

/** Negative cache of these tests, in ms: short, so its expiry can be awaited. */
const TEST_NEGATIVE_TTL_MS = 1_000;
/** Re-read period of these tests, in ms: long, the re-read plays no part here. */
const TEST_REREAD_MS = 600_000;

let server: RunningServer;
let redis: Redis;
let ca: DevCa;
let store: CertStore;
const keys = new RedisKeys();

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  store = new CertStore(redis, keys);
  ca = createDevCa(fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-ctx-pki-')));
});

after(async () => {
  redis?.disconnect();
  await server?.stop();
});

function contexts(options: { maxEntries?: number } = {}): CertificateContexts {
  return new CertificateContexts({ redis, keys, logger: silentLogger(), defaultContext: undefined, rereadIntervalMs: TEST_REREAD_MS, negativeTtlMs: TEST_NEGATIVE_TTL_MS, ...options });
}

/** HGETALL calls the server has run so far (INFO commandstats). */
async function hgetallCalls(): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(/cmdstat_hgetall:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

test('concurrent handshakes for one name share one Redis read; later ones hit the cache', async () => {
  const cert = ca.issue('shared', ['shared.example.test']);
  await store.putIssued('shared.example.test', cert.certPem, cert.keyPem);
  const certs = contexts();
  const before = await hgetallCalls();
  const selected = await Promise.all(Array.from({ length: 20 }, () => certs.select('Shared.Example.TEST.')));
  assert.ok(selected.every((s) => s?.source === 'exact' && s.context === selected[0]!.context));
  assert.equal((await hgetallCalls()) - before, 1, 'twenty handshakes, one HGETALL');
  await certs.select('shared.example.test');
  assert.equal((await hgetallCalls()) - before, 1, 'a cached name asks Redis nothing');
});

test('loaded(): the certificates in the cache with their notAfter (metrics), never the names without one', async () => {
  const cert = ca.issue('expiring', ['expiring.example.test']);
  await store.putIssued('expiring.example.test', cert.certPem, cert.keyPem);
  const certs = contexts();
  assert.deepEqual([...certs.loaded()], [], 'nothing selected yet');
  await certs.select('expiring.example.test');
  assert.equal(await certs.select('none.example.test'), undefined);
  const notAfterMs = Date.parse(new crypto.X509Certificate(cert.certPem).validTo);
  assert.deepEqual([...certs.loaded()], [{ name: 'expiring.example.test', notAfterMs }]);
});

test('a name without a certificate is asked again only after the negative TTL', async () => {
  const certs = contexts();
  // The key is made before the clock of the negative entry starts: on a loaded machine making it
  // took longer than the TTL, and the second select below then rightly read again.
  const cert = ca.issue('later', ['later.example.test']);
  assert.equal(await certs.select('later.example.test'), undefined);
  await store.putIssued('later.example.test', cert.certPem, cert.keyPem);
  const before = await hgetallCalls();
  assert.equal(await certs.select('later.example.test'), undefined, 'still the cached "no certificate"');
  assert.equal((await hgetallCalls()) - before, 0);
  const found = await waitFor('the negative entry to lapse', async () => certs.select('later.example.test'), TEST_NEGATIVE_TTL_MS * 10);
  assert.equal(found.source, 'exact');
});

test('invalidate (hopgate.cert.updated): the next select waits for the fresh read', async () => {
  const certs = contexts();
  const first = ca.issue('swap-1', ['swap.example.test']);
  await store.putIssued('swap.example.test', first.certPem, first.keyPem);
  const old = await certs.select('swap.example.test');
  const second = ca.issue('swap-2', ['swap.example.test']);
  await store.putIssued('swap.example.test', second.certPem, second.keyPem);
  assert.equal((await certs.select('swap.example.test'))?.context, old?.context, 'without a broadcast the cache holds');
  certs.invalidate('swap.example.test');
  const fresh = await certs.select('swap.example.test');
  assert.notEqual(fresh?.context, old?.context);
});

test('the cache holds at most maxEntries names', async () => {
  const certs = contexts({ maxEntries: 3 });
  for (let i = 0; i < 5; i++) {
    const cert = ca.issue(`bound-${i}`, [`bound${i}.example.test`]);
    await store.putIssued(`bound${i}.example.test`, cert.certPem, cert.keyPem);
    await certs.select(`bound${i}.example.test`);
  }
  assert.equal(certs.cachedCertificateCount, 3);
});

test('server names: normalized, odd ones never reach Redis; wildcards cover one label', async () => {
  assert.equal(normalizeServerName('WWW.Example.COM.'), 'www.example.com');
  assert.equal(normalizeServerName('bad name'), undefined);
  assert.equal(normalizeServerName('a..b'), undefined);
  assert.equal(normalizeServerName('x'.repeat(254)), undefined);
  assert.equal(wildcardOf('a.example.com'), '*.example.com');
  assert.equal(wildcardOf('example.com'), undefined, 'no *.com');
  const before = await hgetallCalls();
  assert.equal(await contexts().select('*.example.test'), undefined);
  assert.equal((await hgetallCalls()) - before, 0);
});

test('Redis hung (SIGSTOP): one handshake for an unknown name waits for the command timeout, later ones answer at once; cached certificates never wait', async (t) => {
  const hungServer = await startRedis();
  const COMMAND_TIMEOUT_MS = 500;
  const hung = new Redis(hungServer.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: COMMAND_TIMEOUT_MS });
  t.after(async () => {
    hungServer.process.kill('SIGCONT');
    hung.disconnect();
    await hungServer.stop();
  });
  await waitFor('connected', () => hung.status === 'ready', 5_000);
  const cert = ca.issue('kept', ['kept.example.test']);
  await new CertStore(hung, keys).putIssued('kept.example.test', cert.certPem, cert.keyPem);
  const certs = new CertificateContexts({ redis: hung, keys, logger: silentLogger(), defaultContext: undefined, rereadIntervalMs: TEST_REREAD_MS, negativeTtlMs: TEST_NEGATIVE_TTL_MS });
  assert.equal((await certs.select('kept.example.test'))?.source, 'exact');
  hungServer.process.kill('SIGSTOP');
  const timed = async (name: string): Promise<{ ms: number; source: string | undefined }> => {
    const started = Date.now();
    const selected = await certs.select(name);
    return { ms: Date.now() - started, source: selected?.source };
  };
  const cached = await timed('kept.example.test');
  assert.equal(cached.source, 'exact');
  assert.ok(cached.ms < 100, `a cached certificate asks nothing (${cached.ms} ms)`);
  const first = await timed('a.unknown.example.test');
  assert.equal(first.source, undefined);
  assert.ok(first.ms >= COMMAND_TIMEOUT_MS - 50 && first.ms < COMMAND_TIMEOUT_MS * 3, `the first unknown name waits for the command timeout (${first.ms} ms), not for Redis`);
  const later = await Promise.all(['b.unknown.example.test', 'c.other.example.test', 'a.unknown.example.test'].map(timed));
  for (const l of later) {
    assert.equal(l.source, undefined);
    assert.ok(l.ms < 100, `once Redis is known to fail, unknown names answer at once (${l.ms} ms)`);
  }
  hungServer.process.kill('SIGCONT');
  const fresh = ca.issue('fresh', ['fresh.example.test']);
  await waitFor('Redis answers again', async () => (await hung.ping().catch(() => '')) === 'PONG', 5_000);
  await new CertStore(hung, keys).putIssued('fresh.example.test', fresh.certPem, fresh.keyPem);
  await waitFor('a new certificate is found once Redis answers', async () => (await certs.select('fresh.example.test'))?.source === 'exact', 5_000, 50);
});
