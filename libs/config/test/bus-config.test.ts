import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDevCa } from '@hopgate/testkit';
import { loadCliConfig, loadIngressConfig, redactUrl, DEFAULT_NATS_URL, DEFAULT_REDIS_URL } from '../src/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-bus-config-'));
const ca = createDevCa(path.join(tmp, 'pki'));
/** An ingress that needs nothing else: plain HTTP only. */
const base = { HOPGATE_HTTPS_LISTEN: 'off', HOPGATE_HTTP_LISTEN: '127.0.0.1:8080' };
/** A syntactically valid user nkey seed (nkeys' encoding: SU + 56 base32 characters). */
const SEED = `SU${'A'.repeat(56)}`;

function file(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

function bad(env: Record<string, string>, message: RegExp): void {
  assert.throws(
    () => loadIngressConfig({ ...base, ...env }),
    (err: Error & { code?: string }) => err.code === 'ERR_BAD_CONFIG' && message.test(err.message),
    `${JSON.stringify(env)} -> ${message}`,
  );
}

test('defaults: plain redis:// and nats:// without credentials or TLS', () => {
  const cfg = loadIngressConfig(base);
  assert.equal(cfg.redisUrl, DEFAULT_REDIS_URL);
  assert.equal(cfg.redisCaFile, undefined);
  assert.equal(cfg.natsUrl, DEFAULT_NATS_URL);
  assert.deepEqual(cfg.natsServers, [DEFAULT_NATS_URL]);
  assert.deepEqual(cfg.natsAuth, { method: 'none' });
  assert.equal(cfg.natsTls, false);
});

test('Redis: rediss://user:password@ with HOPGATE_REDIS_CA_FILE; the CLI reads the same settings', () => {
  const env = { HOPGATE_REDIS_URL: 'rediss://hopgate-ingress:s3cr%40t@redis.internal:6380/2', HOPGATE_REDIS_CA_FILE: ca.certFile };
  const cfg = loadIngressConfig({ ...base, ...env });
  assert.equal(cfg.redisUrl, env.HOPGATE_REDIS_URL);
  assert.equal(cfg.redisCaFile, ca.certFile);
  assert.deepEqual(loadCliConfig(env), { redisUrl: env.HOPGATE_REDIS_URL, redisCaFile: ca.certFile, redisPrefix: 'hopgate:', redisUrlIsDefault: false });
  // A password alone logs in as `default` (requirepass).
  assert.equal(loadIngressConfig({ ...base, HOPGATE_REDIS_URL: 'redis://:pw@127.0.0.1:6379' }).redisUrl, 'redis://:pw@127.0.0.1:6379');
});

test('Redis: clear errors for a bad URL, a user without password, a CA file without TLS, a missing or unparsable CA file', () => {
  bad({ HOPGATE_REDIS_URL: '127.0.0.1:6379' }, /HOPGATE_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL, got "127\.0\.0\.1:6379"/);
  bad({ HOPGATE_REDIS_URL: 'http://127.0.0.1:6379' }, /HOPGATE_REDIS_URL must start with redis:\/\/ or rediss:\/\/ \(TLS\), got http:\/\//);
  bad({ HOPGATE_REDIS_URL: 'not a url' }, /HOPGATE_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
  bad({ HOPGATE_REDIS_URL: 'redis://hopgate-ingress@127.0.0.1:6379' }, /names the user "hopgate-ingress" but no password/);
  bad({ HOPGATE_REDIS_URL: 'redis://127.0.0.1:6379/x' }, /the path must be a database number/);
  bad({ HOPGATE_REDIS_URL: 'redis://127.0.0.1:6379', HOPGATE_REDIS_CA_FILE: ca.certFile }, /HOPGATE_REDIS_CA_FILE is set but HOPGATE_REDIS_URL is not a rediss:\/\/ \(TLS\) URL/);
  bad({ HOPGATE_REDIS_URL: 'rediss://127.0.0.1:6379', HOPGATE_REDIS_CA_FILE: path.join(tmp, 'missing.pem') }, /HOPGATE_REDIS_CA_FILE .*missing\.pem: no such file/);
  bad({ HOPGATE_REDIS_URL: 'rediss://127.0.0.1:6379', HOPGATE_REDIS_CA_FILE: file('not-pem.pem', 'hello\n') }, /HOPGATE_REDIS_CA_FILE .*: no PEM certificate in it/);
  const broken = file('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  bad({ HOPGATE_REDIS_URL: 'rediss://127.0.0.1:6379', HOPGATE_REDIS_CA_FILE: broken }, /HOPGATE_REDIS_CA_FILE .*: a certificate in it does not parse/);
  // The password never appears in an error message.
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_REDIS_URL: 'redis://u:topsecret@127.0.0.1:6379/x' }), (err: Error) => !err.message.includes('topsecret'));
});

test('NATS: tls:// URLs (a list), user and password, HOPGATE_NATS_CA_FILE', () => {
  const cfg = loadIngressConfig({
    ...base,
    HOPGATE_NATS_URL: 'tls://nats-1.internal:4222, tls://nats-2.internal:4222',
    HOPGATE_NATS_USER: 'hopgate-ingress',
    HOPGATE_NATS_PASSWORD: 'pw',
    HOPGATE_NATS_CA_FILE: ca.certFile,
  });
  assert.deepEqual(cfg.natsServers, ['tls://nats-1.internal:4222', 'tls://nats-2.internal:4222']);
  assert.deepEqual(cfg.natsAuth, { method: 'user_password', user: 'hopgate-ingress', password: 'pw' });
  assert.equal(cfg.natsCaFile, ca.certFile);
  assert.equal(cfg.natsTls, true);
  // tls:// alone requires TLS (system roots); a CA file alone too (nats:// upgrades in-band).
  assert.equal(loadIngressConfig({ ...base, HOPGATE_NATS_URL: 'tls://n:4222' }).natsTls, true);
  assert.equal(loadIngressConfig({ ...base, HOPGATE_NATS_CA_FILE: ca.certFile }).natsTls, true);
  assert.deepEqual(loadIngressConfig({ ...base, HOPGATE_NATS_TOKEN: 't0k' }).natsAuth, { method: 'token', token: 't0k' });
});

test('NATS: creds files (user JWT + seed) and nkey seed files, recognised by their content', () => {
  const jwt = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVQUJDIn0.c2ln';
  const creds = file('user.creds', `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\n\n-----BEGIN USER NKEY SEED-----\n${SEED}\n------END USER NKEY SEED------\n`);
  assert.deepEqual(loadIngressConfig({ ...base, HOPGATE_NATS_CREDS_FILE: creds }).natsAuth, { method: 'creds_file', file: creds, kind: 'jwt' });
  const seed = file('user.nk', `${SEED}\n`);
  assert.deepEqual(loadIngressConfig({ ...base, HOPGATE_NATS_CREDS_FILE: seed }).natsAuth, { method: 'creds_file', file: seed, kind: 'nkey' });
  bad({ HOPGATE_NATS_CREDS_FILE: path.join(tmp, 'none.creds') }, /HOPGATE_NATS_CREDS_FILE .*none\.creds: no such file/);
  bad({ HOPGATE_NATS_CREDS_FILE: file('garbage.creds', 'hello\n') }, /neither a \.creds file \(user JWT \+ seed\) nor a user nkey seed/);
  bad({ HOPGATE_NATS_CREDS_FILE: file('half.creds', `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n`) }, /not a valid \.creds file/);
  // An account or operator seed is not a user's.
  bad({ HOPGATE_NATS_CREDS_FILE: file('account.nk', `SA${'A'.repeat(56)}\n`) }, /neither a \.creds file/);
});

test('NATS: clear errors for half a login, two ways to log in, credentials in the URL, bad URLs', () => {
  bad({ HOPGATE_NATS_USER: 'hopgate-ingress' }, /HOPGATE_NATS_USER is set \("hopgate-ingress"\) but HOPGATE_NATS_PASSWORD is not/);
  bad({ HOPGATE_NATS_PASSWORD: 'pw' }, /HOPGATE_NATS_PASSWORD is set but HOPGATE_NATS_USER is not/);
  bad({ HOPGATE_NATS_USER: 'u', HOPGATE_NATS_PASSWORD: 'pw', HOPGATE_NATS_TOKEN: 't' }, /HOPGATE_NATS_USER\/HOPGATE_NATS_PASSWORD and HOPGATE_NATS_TOKEN are both set: choose one way to log in to NATS/);
  bad({ HOPGATE_NATS_TOKEN: 't', HOPGATE_NATS_CREDS_FILE: file('s.nk', SEED) }, /HOPGATE_NATS_TOKEN and HOPGATE_NATS_CREDS_FILE are both set/);
  bad({ HOPGATE_NATS_URL: 'nats://u:secret@127.0.0.1:4222' }, /HOPGATE_NATS_URL must not carry credentials: set HOPGATE_NATS_USER and HOPGATE_NATS_PASSWORD/);
  bad({ HOPGATE_NATS_URL: 'nats://a:4222,tls://b:4222' }, /mixes nats:\/\/ and tls:\/\//);
  bad({ HOPGATE_NATS_URL: 'ws://a:80' }, /must start with nats:\/\/ or tls:\/\//);
  bad({ HOPGATE_NATS_URL: ' , ' }, /HOPGATE_NATS_URL is empty/);
  bad({ HOPGATE_NATS_CA_FILE: path.join(tmp, 'missing-ca.pem') }, /HOPGATE_NATS_CA_FILE .*: no such file/);
});

test('redactUrl hides passwords and keeps the rest', () => {
  assert.equal(redactUrl('rediss://hopgate-hub:p%40ss@redis.internal:6380/1'), 'rediss://hopgate-hub:***@redis.internal:6380/1');
  assert.equal(redactUrl('redis://:pw@127.0.0.1:6379'), 'redis://:***@127.0.0.1:6379');
  assert.equal(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  assert.equal(redactUrl('tls://nats.internal:4222'), 'tls://nats.internal:4222');
  assert.equal(redactUrl('not a url with //user:pw@host'), 'not a url with //***@host');
});

test('Redis Sentinel: HOPGATE_REDIS_SENTINELS (host:port list, default port 26379) with HOPGATE_REDIS_SENTINEL_NAME; the URL keeps the login', () => {
  const cfg = loadIngressConfig({
    ...base,
    HOPGATE_REDIS_URL: 'redis://hopgate-ingress:pw@ignored:1/2',
    HOPGATE_REDIS_SENTINELS: '10.0.0.1:26380, sentinel-b ,[::1]:26381',
    HOPGATE_REDIS_SENTINEL_NAME: 'mymaster',
    HOPGATE_REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
  });
  assert.deepEqual(cfg.redisSentinel, {
    sentinels: [{ host: '10.0.0.1', port: 26380 }, { host: 'sentinel-b', port: 26379 }, { host: '::1', port: 26381 }],
    name: 'mymaster',
    password: 'sentinel-secret',
    tls: false,
  });
  assert.equal(loadIngressConfig(base).redisSentinel, undefined, 'absent without HOPGATE_REDIS_SENTINELS');
  bad({ HOPGATE_REDIS_SENTINELS: '127.0.0.1:26379' }, /HOPGATE_REDIS_SENTINEL_NAME is not/);
  bad({ HOPGATE_REDIS_SENTINEL_NAME: 'mymaster' }, /HOPGATE_REDIS_SENTINELS \(host:port,host:port,\.\.\.\) is not/);
  bad({ HOPGATE_REDIS_SENTINELS: '127.0.0.1:99999', HOPGATE_REDIS_SENTINEL_NAME: 'm' }, /"127\.0\.0\.1:99999" is not host:port/);
  bad({ HOPGATE_REDIS_SENTINELS: 'a:1', HOPGATE_REDIS_SENTINEL_NAME: 'm', HOPGATE_REDIS_SENTINEL_TLS: 'true' }, /not a rediss:\/\/ \(TLS\) URL/);
});
