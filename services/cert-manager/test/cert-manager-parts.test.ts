import crypto from 'node:crypto';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { CertStore } from '@hopgate/certs';
import { RedisKeys } from '@hopgate/keys';
import { silentLogger } from '@hopgate/log';
import { RouteTable } from '@hopgate/routes';
import { createDevCa, startRedis, waitFor, type RunningServer } from '@hopgate/testkit';
import {
  AccountStore,
  CertLock,
  CertSync,
  acmeTransportError,
  lastErrorOf,
  mirrorToCache,
  cachePaths,
  readCachedCertificate,
  CacheRestore,
  retryDelayMs,
  issueJobId,
  wantedNames,
  isCurrent,
  MAX_RETRY_DELAY_MS,
  MAX_LAST_ERROR_CHARS,
} from '../src/index.js';

let server: RunningServer;
let redis: Redis;
const keys = new RedisKeys('unit:');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-cert-manager-'));

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

function table(hosts: string[]): RouteTable {
  const { table: built, errors } = RouteTable.build(hosts.map((host) => ({ host, field: '/', value: 'laptop/web' })));
  assert.deepEqual(errors, []);
  return built;
}

test('wanted names: exact route hosts ∪ configured names; wildcards and IPs are not issuable, with the reason', () => {
  const wanted = wantedNames(table(['b.example.com', '*.example.com', 'a.example.com', '10.0.0.1']), ['hub.example.com', 'a.example.com']);
  assert.deepEqual(wanted.issuable, ['a.example.com', 'b.example.com', 'hub.example.com']);
  assert.deepEqual([...wanted.notIssuable.keys()].sort(), ['*.example.com', '10.0.0.1']);
  assert.match(wanted.notIssuable.get('*.example.com')!, /DNS-01/);
  assert.match(wanted.notIssuable.get('10.0.0.1')!, /IP address/);
});

test('retry delays double from the base and stop at the cap; job ids have no colon', () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => retryDelayMs(n, 60_000)), [60_000, 120_000, 240_000, 480_000]);
  assert.equal(retryDelayMs(30, 60_000), MAX_RETRY_DELAY_MS);
  assert.equal(issueJobId('app.example.com'), 'issue-app.example.com');
  assert.ok(!issueJobId('app.example.com').includes(':'));
});

test('transport errors name the server and the cause; last_error is one short line', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  assert.equal(acmeTransportError('https://acme.test/dir', refused).message, 'ACME server https://acme.test/dir unreachable: ECONNREFUSED');
  assert.equal(acmeTransportError('https://acme.test/dir', refused).code, 'ERR_ACME');
  const untrusted = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  assert.match(acmeTransportError('https://acme.test/dir', untrusted).message, /not trusted \(SELF_SIGNED_CERT_IN_CHAIN\): set HOPGATE_ACME_CA_FILE/);
  assert.ok(!('config' in acmeTransportError('https://acme.test/dir', refused)), 'no config property (acme-client would retry and mangle it)');
  const long = lastErrorOf(new Error(`line one\nline two ${'x'.repeat(1000)}`));
  assert.equal(long.length, MAX_LAST_ERROR_CHARS);
  assert.ok(!long.includes('\n'));
});

test('cert lock: one owner at a time, extended while held, released only by its owner, expires when the owner dies', async () => {
  const a = new CertLock(redis, keys, 'replica-a', 300);
  const b = new CertLock(redis, keys, 'replica-b', 300);
  const start = Date.now();
  const held = await a.acquire('x.example.com');
  assert.ok(held);
  assert.equal(await b.acquire('x.example.com'), undefined);
  // Held past its TTL thanks to the extension timer (every TTL/3).
  await waitFor('three TTLs pass', async () => (await redis.pttl(keys.certLock('x.example.com'))) > 0 && Date.now() > start + 900, 5_000);
  assert.equal(await a.owner('x.example.com'), held.owner);
  assert.equal(held.held, true);
  await held.release();
  assert.equal(await a.owner('x.example.com'), undefined);
  // A lock whose owner vanished (no extension) expires by itself; release by a non-owner deletes nothing.
  await redis.set(keys.certLock('y.example.com'), 'dead-owner', 'PX', 200);
  assert.equal(await b.acquire('y.example.com'), undefined);
  const later = await waitFor('expired lock taken', () => b.acquire('y.example.com'), 3_000);
  await redis.set(keys.certLock('y.example.com'), 'someone-else');
  await later.release();
  assert.equal(await redis.get(keys.certLock('y.example.com')), 'someone-else');
});

test('account: replicas racing end with one key; a new directory gets a new key; the URL is recorded for its key only', async () => {
  const accounts = new AccountStore(redis, keys);
  let made = 0;
  const newKey = async (): Promise<string> => `key-${++made}`;
  const results = await Promise.all([1, 2, 3].map(() => new AccountStore(redis, keys).ensure('https://a.test/dir', 'ops@example.com', newKey)));
  const storedKeys = new Set(results.map((r) => r.account.keyPem));
  assert.equal(storedKeys.size, 1, 'one key');
  assert.equal(results.filter((r) => r.created).length, 1, 'created once');
  const first = results[0]!.account.keyPem;
  assert.equal(await accounts.setUrl('https://a.test/dir', first, 'https://a.test/acct/1'), true);
  assert.equal(await accounts.setUrl('https://a.test/dir', 'other-key', 'https://a.test/acct/2'), false);
  assert.equal((await accounts.read('https://a.test/dir'))?.url, 'https://a.test/acct/1');
  const moved = await accounts.ensure('https://b.test/dir', undefined, newKey);
  assert.equal(moved.created, true);
  assert.notEqual(moved.account.keyPem, first);
  assert.equal(moved.account.url, undefined);
  assert.equal(await accounts.read('https://a.test/dir'), undefined);
  assert.deepEqual(await redis.hgetall(keys.acmeAccount), { key_pem: moved.account.keyPem, directory: 'https://b.test/dir', email: '' });
});

test('sync pass: queues missing, due, failed and malformed names; marks not_issuable once; leaves current ones alone', async () => {
  const certs = new CertStore(redis, keys);
  const ca = createDevCa(path.join(tmp, 'ca'));
  const current = ca.issue('current', ['current.example.com']);
  await certs.putIssued('current.example.com', current.certPem, current.keyPem);
  const due = ca.issue('due', ['due.example.com']);
  await certs.putIssued('due.example.com', due.certPem, due.keyPem);
  await certs.forceRenewal('due.example.com');
  const failed = ca.issue('failed', ['failed.example.com']);
  await certs.putIssued('failed.example.com', failed.certPem, failed.keyPem);
  await certs.setStatus('failed.example.com', 'failed', 'ACME server down');
  await redis.hset(keys.cert('bad.example.com'), 'status', 'bogus');
  const queued: string[] = [];
  const sync = new CertSync({ certs, enqueue: async (name) => void queued.push(name), logger: silentLogger() });
  const wanted = wantedNames(table(['current.example.com', 'due.example.com', 'failed.example.com', 'bad.example.com', 'new.example.com', '*.example.com']), []);
  const summary = await sync.run(wanted, 'test');
  assert.deepEqual(queued.sort(), ['bad.example.com', 'due.example.com', 'failed.example.com', 'new.example.com']);
  assert.deepEqual(summary.queued.sort(), queued);
  const fresh = await certs.get('new.example.com');
  assert.equal(fresh.ok ? fresh.record?.status : 'malformed', 'pending');
  const wild = await certs.get('*.example.com');
  assert.ok(wild.ok && wild.record?.status === 'not_issuable' && /DNS-01/.test(wild.record.lastError ?? ''));
  const updatedAt = wild.ok ? wild.record?.updatedAt : undefined;
  await sync.run(wanted, 'again');
  const again = await certs.get('*.example.com');
  assert.equal(again.ok ? again.record?.updatedAt : -1, updatedAt, 'an unchanged not_issuable record is not rewritten');
  const cur = await certs.get('current.example.com');
  assert.ok(cur.ok && isCurrent(cur.record));
  // Metrics: the notAfter of every wanted name with a stored certificate, none for the others.
  const notAfterOf = (pem: string): number => Date.parse(new crypto.X509Certificate(pem).validTo);
  assert.deepEqual(new Map([...sync.notAfter()].map((e) => [e.name, e.notAfterMs])), new Map([
    ['current.example.com', notAfterOf(current.certPem)],
    ['due.example.com', notAfterOf(due.certPem)],
    ['failed.example.com', notAfterOf(failed.certPem)],
  ]));
  // The names that left the table keep their records (and leave the metrics).
  await sync.run(wantedNames(table([]), []), 'routes gone');
  assert.equal((await certs.names()).length, 6);
  assert.deepEqual([...sync.notAfter()], []);
});

test('cache mirror: certbot layout, key 0600, atomic replacement', async () => {
  const dir = path.join(tmp, 'cache');
  await mirrorToCache(dir, 'a.example.com', 'CHAIN-1', 'KEY-1');
  await mirrorToCache(dir, 'a.example.com', 'CHAIN-2', 'KEY-2');
  const p = cachePaths(dir, 'a.example.com');
  assert.equal(fs.readFileSync(p.fullchain, 'utf8'), 'CHAIN-2');
  assert.equal(fs.readFileSync(p.privkey, 'utf8'), 'KEY-2');
  assert.equal(fs.statSync(p.privkey).mode & 0o777, 0o600);
  assert.deepEqual(fs.readdirSync(p.folder).sort(), ['fullchain.pem', 'privkey.pem'], 'no temporary files left');
});


test('cache folder: a still-valid certificate that names the name with its own key is restored into Redis; anything else is not', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-cache-restore-'));
  const ca = createDevCa(path.join(dir, 'pki'));
  const good = ca.issue('good', ['good.example.test']);
  const other = ca.issue('other', ['other.example.test']);
  const cacheDir = path.join(dir, 'cache');
  assert.deepEqual(await readCachedCertificate(cacheDir, 'good.example.test'), { reason: 'missing' });
  await mirrorToCache(cacheDir, 'good.example.test', good.certPem, good.keyPem);
  await mirrorToCache(cacheDir, 'wrong-name.example.test', other.certPem, other.keyPem);
  await mirrorToCache(cacheDir, 'wrong-key.example.test', ca.issue('wrong-key', ['wrong-key.example.test']).certPem, other.keyPem);
  const found = await readCachedCertificate(cacheDir, 'good.example.test');
  assert.ok('chainPem' in found && found.chainPem === good.certPem);
  assert.match(JSON.stringify(await readCachedCertificate(cacheDir, 'wrong-name.example.test')), /does not name wrong-name\.example\.test/);
  assert.match(JSON.stringify(await readCachedCertificate(cacheDir, 'good.example.test', Date.now() + 10 * 365 * 86_400_000)), /expired on/);
  assert.match(JSON.stringify(await readCachedCertificate(cacheDir, 'wrong-key.example.test')), /privkey\.pem is not the key of the certificate/);

  const certs = new CertStore(redis, keys);
  const announced: string[] = [];
  const restore = new CacheRestore({ dir: cacheDir, certs, announce: (r) => announced.push(r.name), logger: silentLogger() });
  const record = await restore.restore('good.example.test');
  assert.equal(record?.status, 'valid');
  assert.equal(record?.chainPem, good.certPem);
  assert.deepEqual(announced, ['good.example.test']);
  assert.equal(await restore.restore('wrong-name.example.test'), undefined);
  assert.equal(await restore.restore('absent.example.test'), undefined);
});
