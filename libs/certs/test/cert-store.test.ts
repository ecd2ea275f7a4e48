import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { startRedis, createDevCa, type RunningServer, type DevCa } from '@hopgate/testkit';
import { CertStore, ChallengeStore, isServable, renewalDueAt, encodeCertUpdated, decodeCertUpdated } from '../src/index.js';

let server: RunningServer;
let redis: Redis;
let ca: DevCa;
let prefixCounter = 0;

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  ca = createDevCa(fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-certs-')));
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

function freshKeys(): RedisKeys {
  prefixCounter += 1;
  return new RedisKeys(`c${prefixCounter}:`);
}

test('an issued certificate is stored with dates, issuer and serial read from the PEM, and listed', async () => {
  const keys = freshKeys();
  const store = new CertStore(redis, keys);
  const leaf = ca.issue('app', ['app.example.test']);
  const record = await store.putIssued('app.example.test', leaf.certPem, leaf.keyPem);
  assert.equal(record.status, 'valid');
  assert.equal(record.issuer, 'CN=HopGate Dev CA');
  assert.ok(record.notBefore! < Date.now() && record.notAfter! > Date.now());
  assert.equal(record.renewAt, renewalDueAt(record.notBefore!, record.notAfter!));
  assert.ok(isServable(record));
  const raw = await redis.hgetall(keys.cert('app.example.test'));
  assert.equal(raw.status, 'valid');
  assert.equal(raw.not_after, new Date(record.notAfter!).toISOString());
  const { records, problems } = await store.list();
  assert.deepEqual(records.map((r) => r.name), ['app.example.test']);
  assert.deepEqual(problems, []);
});

test('a key that does not match the certificate is refused and nothing is stored', async () => {
  const keys = freshKeys();
  const store = new CertStore(redis, keys);
  const a = ca.issue('a', ['a.example.test']);
  const b = ca.issue('b', ['b.example.test']);
  await assert.rejects(store.putIssued('a.example.test', a.certPem, b.keyPem), /does not match/);
  assert.equal(await redis.exists(keys.cert('a.example.test')), 0);
});

test('malformed records written with redis-cli are reported with a reason, not thrown', async () => {
  const keys = freshKeys();
  const store = new CertStore(redis, keys);
  await redis.hset(keys.cert('x.example.test'), { status: 'bogus' });
  await redis.hset(keys.cert('y.example.test'), { chain_pem: 'not a pem', key_pem: 'nope' });
  await redis.hset(keys.cert('z.example.test'), { chain_pem: ca.certPem });
  const { records, problems } = await store.list();
  assert.deepEqual(records, []);
  assert.deepEqual(problems.map((p) => p.name), ['x.example.test', 'y.example.test', 'z.example.test']);
  assert.match(problems[0]!.reason, /unknown status/);
  assert.match(problems[1]!.reason, /no certificate|unreadable/);
  assert.match(problems[2]!.reason, /set together/);
});

test('status changes keep the stored certificate; a failure records last_error, success clears it', async () => {
  const keys = freshKeys();
  const store = new CertStore(redis, keys);
  const leaf = ca.issue('s', ['s.example.test']);
  await store.putIssued('s.example.test', leaf.certPem, leaf.keyPem);
  await store.setStatus('s.example.test', 'renewing');
  await store.setStatus('s.example.test', 'failed', 'ACME server unreachable');
  let got = await store.get('s.example.test');
  assert.ok(got.ok && got.record);
  assert.equal(got.record.status, 'failed');
  assert.equal(got.record.lastError, 'ACME server unreachable');
  assert.ok(got.record.lastAttemptAt !== undefined);
  assert.ok(isServable(got.record), 'the old certificate is still served after a failed renewal');
  await store.putIssued('s.example.test', leaf.certPem, leaf.keyPem);
  got = await store.get('s.example.test');
  assert.ok(got.ok && got.record);
  assert.equal(got.record.lastError, undefined);
});

test('a name with only a status has no certificate to serve', async () => {
  const store = new CertStore(redis, freshKeys());
  await store.setStatus('p.example.test', 'pending');
  const got = await store.get('p.example.test');
  assert.ok(got.ok && got.record);
  assert.equal(isServable(got.record), false);
  const none = await store.get('none.example.test');
  assert.ok(none.ok);
  assert.equal(none.record, undefined);
});

test('challenge material expires with its TTL', async () => {
  const keys = freshKeys();
  const challenges = new ChallengeStore(redis, keys);
  await challenges.putHttp01('tok', 'tok.thumb', 60_000);
  assert.equal(await challenges.getHttp01('tok'), 'tok.thumb');
  assert.ok((await redis.pttl(keys.acmeHttp01('tok'))) > 0);
  await challenges.putTlsAlpn01('t.example.test', 'CERT', 'KEY', 60_000);
  assert.deepEqual(await challenges.getTlsAlpn01('t.example.test'), { certPem: 'CERT', keyPem: 'KEY' });
  assert.ok((await redis.pttl(keys.acmeTlsAlpn01('t.example.test'))) > 0);
  await challenges.putHttp01('short', 'x', 50);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(await challenges.getHttp01('short'), undefined);
  await challenges.deleteTlsAlpn01('t.example.test');
  assert.equal(await challenges.getTlsAlpn01('t.example.test'), undefined);
});

test('cert.updated broadcasts round-trip; garbage decodes to nothing', async () => {
  const store = new CertStore(redis, freshKeys());
  const leaf = ca.issue('n', ['n.example.test']);
  const record = await store.putIssued('n.example.test', leaf.certPem, leaf.keyPem);
  assert.equal(decodeCertUpdated(encodeCertUpdated(record)), 'n.example.test');
  assert.equal(decodeCertUpdated(Buffer.from('{not json')), undefined);
  assert.equal(decodeCertUpdated(Buffer.from('{"name":5}')), undefined);
});
