/**
 * Redis with the documented ACL file (deploy/redis/users.acl, placeholders filled as a
 * deployment does) over TLS only (rediss:// + HOPGATE_REDIS_CA_FILE): every service logs in
 * as its own user. The whole product serves: the cert-manager issues the hub's and a route
 * host's certificates with pebble (HTTP-01 answered by the ingress), the hub serves its own,
 * the ingress serves the route host's, curl reaches the origin through the tunnel. Keys a
 * service must not touch are refused for its user; Redis's ACL LOG shows no other refusal
 * than those (and the route loader's CONFIG GET, refused by design).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { connectRedis, redisErrorCode } from '@hopgate/runtime';
import { Stack, HUB_SERVER_NAME, startPebble, type Login, type RunningPebble } from '@hopgate/testkit';
import { assertIssuedFor, certManagerEnv, waitValid } from './acme-helpers.js';
import { handshake } from './cert-helpers.js';
import { curl } from './edge-helpers.js';
import { startOrigin, type Origin } from './helpers.js';
import { fillPlaceholders, randomPassword, readDeployFile, runUntilExit, sha256Hex } from './bus-helpers.js';

/** Time for one certificate to be ordered and validated by pebble, in ms. */
const ISSUE_TIMEOUT_MS = 20_000;
const HOST = 'shop.acl.test';
const HUB_ID = 'hub-1';
/** The connection name of this test's own probing clients (in the ACL LOG's client-info). */
const PROBE_CONNECTION = 'hopgate-test-probe';
/** A user for the test's own bookkeeping (ACL LOG), added to the documented file. */
const ROOT: Login = { user: 'hopgate-test-root', password: randomPassword() };

const logins: Record<'ingress' | 'hub' | 'certManager' | 'admin', Login> = {
  ingress: { user: 'hopgate-ingress', password: randomPassword() },
  hub: { user: `hopgate-hub-${HUB_ID}`, password: randomPassword() },
  certManager: { user: 'hopgate-cert-manager', password: randomPassword() },
  admin: { user: 'hopgate-admin', password: randomPassword() },
};

const keys = new RedisKeys();
let stack: Stack;
let pebble: RunningPebble;
let root: Redis;
let web: Origin;
let rootFile: string;
const probes: Redis[] = [];

/** A connection as `login`, made the way the services make theirs (rediss:// + the CA file). */
async function connectAs(login: Login, name = PROBE_CONNECTION): Promise<Redis> {
  const redis = await connectRedis({ redisUrl: stack.redisUrlAs(login), redisCaFile: stack.ca.certFile }, { name, options: { maxRetriesPerRequest: 1 } });
  probes.push(redis);
  return redis;
}

/** The Redis error code `attempt` failed with (NOPERM for an ACL refusal); fails the test if it succeeded. */
async function refusedWith(attempt: Promise<unknown>): Promise<string | undefined> {
  const outcome = await attempt.then(
    () => 'succeeded',
    (err: unknown) => err,
  );
  assert.notEqual(outcome, 'succeeded', 'expected a refusal');
  return redisErrorCode(outcome);
}

interface AclLogEntry {
  reason: string;
  context: string;
  object: string;
  username: string;
  clientName: string;
}

/** Redis's ACL LOG: every refusal since the server started (as the test's root user). */
async function aclLog(): Promise<AclLogEntry[]> {
  const raw = (await root.call('ACL', 'LOG', '1000')) as unknown[][];
  return raw.map((flat) => {
    const entry = new Map<string, unknown>();
    for (let i = 0; i + 1 < flat.length; i += 2) entry.set(String(flat[i]), flat[i + 1]);
    return {
      reason: String(entry.get('reason')),
      context: String(entry.get('context')),
      object: String(entry.get('object')),
      username: String(entry.get('username')),
      clientName: /(?:^| )name=(\S*)/.exec(String(entry.get('client-info')))?.[1] ?? '',
    };
  });
}

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-redis-acl-'));
  const acl = fillPlaceholders(readDeployFile('redis/users.acl'), {
    REDIS_INGRESS_PASSWORD_SHA256: sha256Hex(logins.ingress.password),
    REDIS_HUB_PASSWORD_SHA256: sha256Hex(logins.hub.password),
    REDIS_CERT_MANAGER_PASSWORD_SHA256: sha256Hex(logins.certManager.password),
    REDIS_ADMIN_PASSWORD_SHA256: sha256Hex(logins.admin.password),
    HOPGATE_HUB_ID: HUB_ID,
    HOPGATE_HUB_NAME: HUB_SERVER_NAME,
  });
  stack = await Stack.start({
    dir,
    redisAcl: `${acl}user ${ROOT.user} on >${ROOT.password} ~* &* +@all\n`,
    busTls: true,
    ingressFileCert: false,
    hubFileCert: false,
    hubEnv: { HOPGATE_HUB_NAME: HUB_SERVER_NAME, HOPGATE_CERT_REREAD_INTERVAL_MS: '1000' },
    ingressEnv: { HOPGATE_CERT_REREAD_INTERVAL_MS: '1000' },
    logins: {
      ingress: { redis: logins.ingress },
      hub: { redis: logins.hub },
      certManager: { redis: logins.certManager },
      cli: { redis: logins.admin },
    },
  });
  root = await connectRedis({ redisUrl: stack.redisUrlAs(ROOT), redisCaFile: stack.ca.certFile }, { name: 'hopgate-test-root' });
  pebble = await startPebble({ dir: path.join(dir, 'pebble'), httpPort: stack.httpPort, tlsPort: stack.httpsPort });
  rootFile = path.join(dir, 'pebble-root.pem');
  fs.writeFileSync(rootFile, await pebble.rootPem());
  web = await startOrigin('web');
  await stack.startCertManager(certManagerEnv(pebble, { HOPGATE_HUB_NAME: HUB_SERVER_NAME }));
});

after(async () => {
  for (const redis of probes) redis.disconnect();
  root?.disconnect();
  await stack?.stop();
  await pebble?.stop();
  await web?.close();
});

test('the whole product serves with per-service ACL users over rediss://: pebble certificates for the hub and a route host, curl through the tunnel', async () => {
  assert.match(stack.redis.url, /^rediss:\/\//);
  const hubRecord = await waitValid(root, HUB_SERVER_NAME, ISSUE_TIMEOUT_MS);
  assertIssuedFor(hubRecord, HUB_SERVER_NAME, await pebble.rootPem());
  await stack.hubs[0]!.process.waitForLog('hub certificate loaded', (r) => r.msg === 'hub certificate loaded' && r['serial'] === hubRecord.serial, ISSUE_TIMEOUT_MS);

  const token = await stack.addClient('laptop');
  await stack.startAgent({ clientId: 'laptop', token, services: { web: web.address }, caFile: rootFile, serverName: HUB_SERVER_NAME });
  await stack.setRoute(HOST, '/', 'laptop/web');
  const record = await waitValid(root, HOST, ISSUE_TIMEOUT_MS);
  await stack.ingress.waitForLog('http-01 answered', (r) => r.msg === 'acme http-01: challenge answered' && String(r['host']).split(':')[0] === HOST);
  await stack.ingress.waitForLog('route applied', (r) => r.msg === 'route table changed' && (r['added'] as string[]).some((a) => a.startsWith(HOST)));

  const res = await curl(['-sS', '--max-time', '10', '--cacert', rootFile, '--resolve', `${HOST}:${stack.httpsPort}:127.0.0.1`, `https://${HOST}:${stack.httpsPort}/hello`]);
  assert.equal(res.code, 0, `curl failed: ${res.stderr}`);
  assert.equal(res.stdout, 'hello from web\n');
  const served = await handshake(stack.httpsPort, HOST, await pebble.rootPem());
  assert.equal(served.serial, record.serial, 'the ingress serves the stored certificate by SNI');
  // The hub wrote its session record and registry entry as its own user.
  const session = await root.hgetall(keys.session('laptop'));
  assert.equal(session['hub'], HUB_ID);
  assert.equal(await root.exists(keys.hub(HUB_ID)), 1);
});

test('each service user is refused the keys it must not touch (NOPERM), and may use its own', async () => {
  const ingress = await connectAs(logins.ingress);
  assert.equal(await refusedWith(ingress.hset(keys.client('intruder'), 'token_sha256', '0'.repeat(64))), 'NOPERM', 'the ingress cannot write clients');
  assert.equal(await refusedWith(ingress.hgetall(keys.client('laptop'))), 'NOPERM', 'the ingress cannot read client token hashes');
  assert.equal(await refusedWith(ingress.hset(keys.route('evil.acl.test'), '/', 'laptop/web')), 'NOPERM', 'the ingress cannot write routes');
  assert.equal(await refusedWith(ingress.hset(keys.cert(HOST), 'key_pem', 'x')), 'NOPERM', 'the ingress cannot replace certificates');
  assert.equal(await refusedWith(ingress.call('FLUSHALL')), 'NOPERM');
  assert.ok((await ingress.hgetall(keys.cert(HOST)))['chain_pem'], 'the ingress reads certificates');

  const hub = await connectAs(logins.hub);
  assert.equal(await refusedWith(hub.hgetall(keys.cert(HOST))), 'NOPERM', 'the hub cannot read another name\'s certificate (and key)');
  assert.equal(await refusedWith(hub.hset(keys.cert(HUB_SERVER_NAME), 'key_pem', 'x')), 'NOPERM', 'the hub cannot write its own certificate');
  assert.equal(await refusedWith(hub.hset(keys.client('intruder'), 'token_sha256', '0'.repeat(64))), 'NOPERM', 'the hub cannot register clients');
  assert.equal(await refusedWith(hub.hset(keys.route('evil.acl.test'), '/', 'laptop/web')), 'NOPERM');
  assert.equal(await refusedWith(hub.del(keys.hub('hub-2'))), 'NOPERM', 'the hub cannot remove another hub\'s registry entry');
  assert.ok((await hub.hgetall(keys.cert(HUB_SERVER_NAME)))['key_pem'], 'the hub reads its own certificate');

  const manager = await connectAs(logins.certManager);
  assert.equal(await refusedWith(manager.hset(keys.client('intruder'), 'token_sha256', '0'.repeat(64))), 'NOPERM', 'the cert-manager cannot register clients');
  assert.equal(await refusedWith(manager.hset(keys.route('evil.acl.test'), '/', 'laptop/web')), 'NOPERM', 'the cert-manager cannot write routes');
  assert.equal(await refusedWith(manager.hgetall(keys.session('laptop'))), 'NOPERM');
  assert.equal(await refusedWith(manager.call('KEYS', '*')), 'NOPERM');

  const admin = await connectAs(logins.admin);
  assert.equal(await refusedWith(admin.call('FLUSHALL')), 'NOPERM', 'the operator user cannot wipe the database');
  assert.equal(await refusedWith(admin.set('not-hopgate', 'x')), 'NOPERM', 'the operator user stays inside hopgate:*');
  assert.equal(await refusedWith(admin.call('ACL', 'LIST')), 'NOPERM');
  // Route fallbacks: the operator writes them; the ingress reads them (and the page) with its own user, never writes.
  await admin.hset(keys.page('maintenance'), 'status', '503', 'content_type', 'text/html', 'body', '<p>soon</p>');
  await admin.hset(keys.fallback(HOST), '/', 'page:maintenance');
  await stack.ingress.waitForLog('fallbacks read by the ingress user', (r) => r.msg === 'route fallbacks changed' && String(r['added']).includes(`${HOST}/ -> page:maintenance`));
  assert.equal(await refusedWith(ingress.hset(keys.fallback(HOST), '/', 'laptop/web')), 'NOPERM', 'the ingress cannot write fallbacks');
  assert.equal(await refusedWith(ingress.hset(keys.page('maintenance'), 'body', 'x')), 'NOPERM', 'the ingress cannot write pages');
  // The default user is off: no login without one of the users above.
  const anonymous = await connectAs({ user: 'default', password: 'x' }).then(
    () => undefined,
    (err: Error & { code?: string }) => err,
  );
  assert.equal(anonymous?.code, 'ERR_AUTH_FAILED');
});

test('Redis ACL LOG: the services met no refusal but the route loader\'s and the hub\'s CONFIG GET (by design); the probes\' refusals are all there', async () => {
  const entries = await aclLog();
  // The probes' own refusals, and their anonymous login attempt (refused before it could name itself).
  const fromServices = entries.filter((e) => e.clientName !== PROBE_CONNECTION && !(e.reason === 'auth' && e.username === 'default'));
  // The route loaders and the hub's client-key watcher read notify-keyspace-events, are refused, and subscribe anyway.
  const readsNotifySetting = new Set(['hopgate-routes', 'hopgate-hub']);
  const unexpected = fromServices.filter((e) => !(e.reason === 'command' && e.object === 'config|get' && readsNotifySetting.has(e.clientName)));
  assert.deepEqual(unexpected, [], 'a service was refused something it needs: the ACL file misses a rule');
  assert.ok(fromServices.length > 0, 'the route loaders asked CONFIG GET notify-keyspace-events and were refused');
  const probed = entries.filter((e) => e.clientName === PROBE_CONNECTION);
  assert.ok(probed.some((e) => e.username === 'hopgate-ingress' && e.reason === 'command' && e.object === 'hset'), 'the ingress may not HSET at all');
  assert.ok(probed.some((e) => e.username === 'hopgate-ingress' && e.reason === 'key' && e.object === keys.client('laptop')), 'the ingress\'s refused read of a client is logged with its key');
  assert.ok(probed.some((e) => e.username === logins.hub.user && e.reason === 'key' && e.object === keys.cert(HOST)), 'the hub\'s refused read of another certificate is logged with its key');
  // The route loaders still follow edits through keyspace notifications (subscribed despite the refused CONFIG GET).
  assert.ok(stack.ingress.countLogs((r) => r.msg === 'subscribing to keyspace notifications for route keys') >= 1);
});

test('a wrong Redis password: the service exits 1 at start with a clear message (user named, password redacted)', async () => {
  const wrong = randomPassword();
  const exit = await runUntilExit(stack, 'dtls-hub', 'hub-wrong-password', {
    ...stack.commonEnv({ redis: { user: logins.hub.user, password: wrong } }),
    HOPGATE_HUB_ID: HUB_ID,
    HOPGATE_HUB_NAME: HUB_SERVER_NAME,
    HOPGATE_DTLS_LISTEN: '127.0.0.1:0',
  });
  assert.equal(exit.code, 1);
  assert.equal(exit.fatal?.msg, 'dtls-hub failed to start');
  assert.match(String(exit.fatal?.err), new RegExp(`^Redis at rediss://${logins.hub.user}:\\*\\*\\*@127\\.0\\.0\\.1:\\d+ refused the login: WRONGPASS .*HOPGATE_REDIS_URL\\)$`));
  assert.ok(!JSON.stringify(exit.fatal).includes(wrong), 'the password is not logged');
});
