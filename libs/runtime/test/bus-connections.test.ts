import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { ServiceSettings, natsConnectionConfig, redisConnectionConfig, type NatsConnectionConfig, type RedisConnectionConfig } from '@hopgate/config';
import { createDevCa, freeTcpPort, startNats, startRedis, waitFor, type DevCa } from '@hopgate/testkit';
import { connectNats, connectRedis, ViolationLog, PERMISSION_VIOLATION_LOG_INTERVAL_MS } from '../src/index.js';
import { captureLogger } from '@hopgate/testkit';
import { operatorSetup, userNkey } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-bus-'));
let ca: DevCa;

before(() => {
  ca = createDevCa(path.join(tmp, 'pki'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function redisConfig(env: Record<string, string>): RedisConnectionConfig {
  return redisConnectionConfig(new ServiceSettings(env));
}

function natsConfig(env: Record<string, string>): NatsConnectionConfig {
  return natsConnectionConfig(new ServiceSettings(env));
}

/**
 * The error a connection attempt failed with. A connection that was made instead is closed
 * and the test fails (rather than hanging on the open connection).
 */
async function refusal(attempt: Promise<{ close(): Promise<void> } | { disconnect(): void }>): Promise<Error & { code?: string }> {
  const outcome = await attempt.then(
    async (connection) => {
      if ('close' in connection) await connection.close();
      else connection.disconnect();
      return undefined;
    },
    (err: unknown) => err as Error & { code?: string },
  );
  assert.ok(outcome, 'the connection was accepted: expected a refusal');
  return outcome;
}

/** Asserts `err` has `code` and a message matching `message`. */
function assertError(err: Error & { code?: string }, code: string, message: RegExp): void {
  assert.equal(err.code, code, err.message);
  assert.match(err.message, message);
}

function file(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text, { mode: 0o600 });
  return p;
}

test('Redis: a refused login fails fast with ERR_AUTH_FAILED and the redacted URL; an unreachable server with ERR_CLOSED', async (t) => {
  const acl = file('users.acl', 'user default off\nuser hopgate-ingress on >right-password ~hopgate:* +@all\n');
  const server = await startRedis({ aclFile: acl });
  t.after(() => server.stop());
  const { logger, lines } = captureLogger();
  const wrong = redisConfig({ HOPGATE_REDIS_URL: `redis://hopgate-ingress:wrong-password@127.0.0.1:${server.port}` });
  const err = await refusal(connectRedis(wrong, { name: 'test', logger }));
  assertError(err, 'ERR_AUTH_FAILED', /^Redis at redis:\/\/hopgate-ingress:\*\*\*@127\.0\.0\.1:\d+ refused the login: WRONGPASS .* \(check the user and password in HOPGATE_REDIS_URL\)$/);
  assert.doesNotMatch(err.message, /wrong-password/);
  const logged = lines.find((l) => l['msg'] === 'redis refused the login: check the user and password in HOPGATE_REDIS_URL');
  assert.equal(logged?.['level'], 'error');
  assert.doesNotMatch(JSON.stringify(lines), /wrong-password/);
  // No password at all for a server that wants one.
  assertError(await refusal(connectRedis(redisConfig({ HOPGATE_REDIS_URL: server.url }), { name: 'test' })), 'ERR_AUTH_FAILED', /NOAUTH/);
  const right = await connectRedis(redisConfig({ HOPGATE_REDIS_URL: `redis://hopgate-ingress:right-password@127.0.0.1:${server.port}` }), { name: 'hopgate-test' });
  assert.equal(await right.ping(), 'PONG');
  assert.equal(await right.client('GETNAME'), 'hopgate-test', 'CLIENT SETNAME from the options');
  right.disconnect();
  const port = await freeTcpPort();
  assertError(await refusal(connectRedis(redisConfig({ HOPGATE_REDIS_URL: `redis://u:secret@127.0.0.1:${port}` }), { name: 'test', options: { retryStrategy: () => null } })), 'ERR_CLOSED', new RegExp(`^cannot connect to Redis at redis://u:\\*\\*\\*@127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
});

test('Redis over TLS: rediss:// with HOPGATE_REDIS_CA_FILE; a server certificate from another CA is refused', async (t) => {
  const cert = ca.issue('redis', ['localhost', '127.0.0.1']);
  const server = await startRedis({ tls: cert });
  t.after(() => server.stop());
  assert.match(server.url, /^rediss:\/\//);
  const redis = await connectRedis(redisConfig({ HOPGATE_REDIS_URL: server.url, HOPGATE_REDIS_CA_FILE: ca.certFile }), { name: 'test' });
  t.after(() => redis.disconnect());
  assert.equal(await redis.set('k', 'v'), 'OK');
  const other = createDevCa(path.join(tmp, 'other-ca'), 'Another CA');
  assertError(await refusal(connectRedis(redisConfig({ HOPGATE_REDIS_URL: server.url, HOPGATE_REDIS_CA_FILE: other.certFile }), { name: 'test', options: { retryStrategy: () => null } })), 'ERR_CLOSED', /cannot connect to Redis at rediss:\/\/127\.0\.0\.1:\d+: .*(certificate|signature)/);
});

test('NATS: a wrong password fails with ERR_AUTH_FAILED naming the user (never the password); no credentials too', async (t) => {
  const server = await startNats({ config: 'authorization { users = [ { user: hopgate-hub, password: right-password } ] }\n' });
  t.after(() => server.stop());
  const env = { HOPGATE_NATS_URL: server.url, HOPGATE_NATS_USER: 'hopgate-hub' };
  const err = await refusal(connectNats(natsConfig({ ...env, HOPGATE_NATS_PASSWORD: 'wrong-password' }), { name: 'test', service: 'hub' }));
  assertError(err, 'ERR_AUTH_FAILED', /^NATS at nats:\/\/127\.0\.0\.1:\d+ refused the login of user "hopgate-hub" \(HOPGATE_NATS_USER \/ HOPGATE_NATS_PASSWORD\): Authorization Violation$/);
  assert.doesNotMatch(err.message, /wrong-password/);
  assertError(await refusal(connectNats(natsConfig({ HOPGATE_NATS_URL: server.url }), { name: 'test', service: 'hub' })), 'ERR_AUTH_FAILED', /refused the login without credentials/);
  const nc = await connectNats(natsConfig({ ...env, HOPGATE_NATS_PASSWORD: 'right-password' }), { name: 'test', service: 'hub' });
  await nc.close();
});

test('NATS: a tls:// URL refuses a server without TLS (nats.js alone talks plain text to it); TLS with HOPGATE_NATS_CA_FILE works', async (t) => {
  const plain = await startNats();
  t.after(() => plain.stop());
  const tlsUrlToPlain = `tls://127.0.0.1:${plain.port}`;
  // What this guards against: nats.js given only the tls:// URL connects without TLS.
  const unguarded = await connect({ servers: tlsUrlToPlain });
  assert.equal(unguarded.info?.tls_required ?? false, false);
  await unguarded.close();
  assertError(await refusal(connectNats(natsConfig({ HOPGATE_NATS_URL: tlsUrlToPlain }), { name: 'test', service: 'hub' })), 'ERR_CLOSED', /server does not support 'tls'/);

  const cert = ca.issue('nats', ['localhost', '127.0.0.1']);
  const secure = await startNats({ tls: cert });
  t.after(() => secure.stop());
  assert.match(secure.url, /^tls:\/\//);
  const nc = await connectNats(natsConfig({ HOPGATE_NATS_URL: secure.url, HOPGATE_NATS_CA_FILE: ca.certFile }), { name: 'test', service: 'hub' });
  const sub = nc.subscribe('hopgate.test');
  nc.publish('hopgate.test', 'over tls');
  for await (const msg of sub) {
    assert.equal(msg.string(), 'over tls');
    break;
  }
  await nc.close();
  const other = createDevCa(path.join(tmp, 'other-nats-ca'), 'Another CA');
  assertError(await refusal(connectNats(natsConfig({ HOPGATE_NATS_URL: secure.url, HOPGATE_NATS_CA_FILE: other.certFile }), { name: 'test', service: 'hub' })), 'ERR_CLOSED', /cannot connect to NATS/);
});

test('NATS: HOPGATE_NATS_CREDS_FILE with an nkey seed (nkey users) and with a .creds file (operator mode, JWT)', async (t) => {
  const key = userNkey();
  const nkeyServer = await startNats({ config: `authorization { users = [ { nkey: ${key.publicKey} } ] }\n` });
  t.after(() => nkeyServer.stop());
  const seedFile = file('hub.nk', `${key.seed}\n`);
  const nc = await connectNats(natsConfig({ HOPGATE_NATS_URL: nkeyServer.url, HOPGATE_NATS_CREDS_FILE: seedFile }), { name: 'test', service: 'hub' });
  await nc.flush();
  await nc.close();
  // Someone else's seed is refused.
  const stranger = file('stranger.nk', `${userNkey().seed}\n`);
  assertError(await refusal(connectNats(natsConfig({ HOPGATE_NATS_URL: nkeyServer.url, HOPGATE_NATS_CREDS_FILE: stranger }), { name: 'test', service: 'hub' })), 'ERR_AUTH_FAILED', /refused the login with HOPGATE_NATS_CREDS_FILE .*stranger\.nk/);

  const setup = operatorSetup(['hopgate.cert.updated']);
  const operatorServer = await startNats({ config: setup.serverConfig });
  t.after(() => operatorServer.stop());
  const creds = file('cert-manager.creds', setup.creds);
  const { logger, lines } = captureLogger();
  const jwtUser = await connectNats(natsConfig({ HOPGATE_NATS_URL: operatorServer.url, HOPGATE_NATS_CREDS_FILE: creds }), { name: 'test', service: 'cert-manager', logger });
  jwtUser.publish('hopgate.cert.updated', '{}');
  jwtUser.publish('hopgate.session.claimed', '{}');
  await waitFor('the JWT permissions enforced', () => lines.some((l) => l['nats_subject'] === 'hopgate.session.claimed'));
  assert.ok(!lines.some((l) => l['nats_subject'] === 'hopgate.cert.updated'), 'the allowed publish went through');
  await jwtUser.close();
});

test('NATS: a refused publish or subscription is logged at warn (rate-limited) and the connection carries on', async (t) => {
  const server = await startNats({
    config: `authorization { users = [
      { user: hopgate-ingress, password: pw, permissions: { publish: { allow: ["hopgate.hub.*"] }, subscribe: { allow: ["hopgate.ingress.*", "_INBOX.hopgate.ingress.>"] } } }
      { user: hopgate-hub, password: pw, permissions: { publish: { allow: ["hopgate.ingress.*"] }, subscribe: { allow: ["hopgate.hub.*"] }, allow_responses: true } }
    ] }\n`,
  });
  t.after(() => server.stop());
  const { logger, lines } = captureLogger();
  const ingress = await connectNats(natsConfig({ HOPGATE_NATS_URL: server.url, HOPGATE_NATS_USER: 'hopgate-ingress', HOPGATE_NATS_PASSWORD: 'pw' }), { name: 'test-ingress', service: 'ingress', logger });
  const hub = await connectNats(natsConfig({ HOPGATE_NATS_URL: server.url, HOPGATE_NATS_USER: 'hopgate-hub', HOPGATE_NATS_PASSWORD: 'pw' }), { name: 'test-hub', service: 'hub' });
  t.after(async () => {
    await ingress.close();
    await hub.close();
  });
  // Publishing as a hub: refused by the server, seen by the client, logged once.
  for (let i = 0; i < 5; i++) ingress.publish('hopgate.session.claimed', '{"client_id":"x","epoch":99,"hub_id":"evil"}');
  const refusedSub = ingress.subscribe('hopgate.hub.hub-1');
  await ingress.flush();
  const publishLines = (): Record<string, unknown>[] => lines.filter((l) => l['operation'] === 'publish');
  await waitFor('publish violations seen', () => publishLines().length === 1 && lines.some((l) => l['operation'] === 'subscription'));
  const line = publishLines()[0]!;
  assert.equal(line['level'], 'warn');
  assert.equal(line['msg'], 'nats: permission violation: the server refused a publish for this user (message dropped); check its publish permissions');
  assert.equal(line['nats_subject'], 'hopgate.session.claimed');
  assert.equal(refusedSub.isClosed(), true, 'nats.js closes a refused subscription');
  // The connection is still up and allowed traffic flows, including a request answered by the
  // hub through allow_responses to the ingress's own inbox prefix.
  hub.subscribe('hopgate.hub.hub-1', {
    callback: (_err, msg) => {
      msg.respond('pong');
    },
  });
  await hub.flush();
  const reply = await ingress.request('hopgate.hub.hub-1', 'ping', { timeout: 2_000 });
  assert.equal(reply.string(), 'pong');
  assert.match(reply.subject, /^_INBOX\.hopgate\.ingress\./, 'replies arrive under the service inbox prefix');
  assert.equal(ingress.isClosed(), false);
  await ingress.flush();
  assert.equal(publishLines().length, 1, 'repeats within the interval are counted, not logged');
});

test('ViolationLog: one line per operation per interval, with the number left out', () => {
  const { logger, lines } = captureLogger();
  let now = 0;
  const log = new ViolationLog(logger, () => now);
  log.record('publish', 'a');
  log.record('publish', 'b');
  log.record('subscription', 'c');
  now = PERMISSION_VIOLATION_LOG_INTERVAL_MS - 1;
  log.record('publish', 'd');
  assert.deepEqual(lines.map((l) => [l['operation'], l['nats_subject'], l['violations_total'], l['violations_not_logged']]), [
    ['publish', 'a', 1, 0],
    ['subscription', 'c', 1, 0],
  ]);
  now = PERMISSION_VIOLATION_LOG_INTERVAL_MS;
  log.record('publish', 'e');
  assert.deepEqual(lines.at(-1) && [lines.at(-1)!['nats_subject'], lines.at(-1)!['violations_total'], lines.at(-1)!['violations_not_logged']], ['e', 4, 2]);
  assert.deepEqual(log.counts, { publish: 4, subscription: 1 });
});

test('waitUntilReachable: Redis and NATS that appear later are waited for, with a warning naming each; a refused Redis login still rejects', async () => {
  const redisPort = await freeTcpPort();
  const natsPort = await freeTcpPort();
  const { logger, lines } = captureLogger('warn');
  const redisReady = connectRedis(redisConfig({ HOPGATE_REDIS_URL: `redis://127.0.0.1:${redisPort}` }), { name: 'test', logger, waitUntilReachable: true });
  const natsReady = connectNats(natsConfig({ HOPGATE_NATS_URL: `nats://127.0.0.1:${natsPort}` }), { name: 'test', service: 'hub', logger, waitUntilReachable: true });
  await waitFor('both waits logged', () => lines.some((l) => String(l.msg).startsWith(`waiting for Redis at redis://127.0.0.1:${redisPort}`)) && lines.some((l) => String(l.msg).startsWith(`waiting for NATS at nats://127.0.0.1:${natsPort}`)), 10_000);
  const redisServer = await startRedis({ port: redisPort });
  const natsServer = await startNats({ port: natsPort });
  try {
    const redis = await redisReady;
    assert.equal(await redis.ping(), 'PONG');
    redis.disconnect();
    const nc = await natsReady;
    await nc.close();
    const waits = lines.filter((l) => String(l.msg).startsWith('waiting for')).length;
    assert.ok(waits <= 4, `a few lines, not one per attempt (${waits})`);
  } finally {
    await natsServer.stop();
    await redisServer.stop();
  }
  const acl = file('users-wait.acl', 'user default off\nuser someone on >right ~* +@all\n');
  const guarded = await startRedis({ aclFile: acl });
  try {
    assertError(await refusal(connectRedis(redisConfig({ HOPGATE_REDIS_URL: `redis://someone:wrong@127.0.0.1:${guarded.port}` }), { name: 'test', waitUntilReachable: true })), 'ERR_AUTH_FAILED', /refused the login: WRONGPASS/);
  } finally {
    await guarded.stop();
  }
});
