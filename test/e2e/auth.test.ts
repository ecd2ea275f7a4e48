/**
 * Agent authentication at the hub: one generic refusal for every failure (the hub's log says
 * which), sessions ended within seconds when their token is replaced (`client add --replace`,
 * a hand-made HSET) or the client removed, the refused agent's slow backoff, session.claimed
 * obeyed only when Redis confirms it, and the per-address throttle of failed logins (last: it
 * spends the loopback address's credits).
 *
 * The hubs here refresh sessions every 10 s (TTL 30 s), so anything seen within 2 s came from
 * keyspace notifications or NATS, not from the periodic refresh. One test starts its own
 * stack with notifications off to show the periodic fallback.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { Stack, waitFor, type ManagedProcess, type LogRecord } from '@hopgate/testkit';
import { AUTH_FAILED_REASON, AUTH_FAILURE_BURST, AUTH_FAILURE_REFILL_INTERVAL_MS } from '@hopgate/dtls-hub';
import { startOrigin, PublicClient, type Origin } from './helpers.js';
import { tryLegacyLogin, tryLogin } from './agent-login.js';

const run = promisify(execFile);

/** Session TTL of the hubs under test: their periodic refresh runs every third of it, in ms. */
const SESSION_TTL_MS = 30_000;
/** The promise: a replaced token ends its sessions within a couple of seconds, in ms. */
const TOKEN_REPLACED_DEADLINE_MS = 2_000;
/** The refused agent's backoff in the backoff test: 200 ms doubling to 1.6 s, in ms. */
const REFUSED_MIN_MS = 200;
const REFUSED_MAX_MS = 1_600;
/** Refusals observed in the backoff test: enough to reach the cap twice. */
const REFUSALS_OBSERVED = 6;
/** Credits an address can have regained in `ms` of the throttle's refill. */
const refilledIn = (ms: number): number => Math.ceil(ms / AUTH_FAILURE_REFILL_INTERVAL_MS) + 1;
/** An agent that must not retry during a test (its first refusal is all we look at), in ms. */
const NO_RETRY_MS = 600_000;
const TEST_TIMEOUT_MS = 90_000;

let stack: Stack;
let origin: Origin;
let pub: PublicClient;
let hubLog: ManagedProcess;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-auth-'));
  stack = await Stack.start({ dir, hubs: 2, hubEnv: { HOPGATE_SESSION_TTL_MS: String(SESSION_TTL_MS) } });
  hubLog = stack.hubs[0]!.process;
  origin = await startOrigin('auth');
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await stack?.stop();
  await origin?.close();
});

const sha256 = (text: string): string => crypto.createHash('sha256').update(text, 'utf8').digest('hex');
const isRefusal = (r: LogRecord): boolean => r.msg === 'the hub refused this agent';

async function redisCli(...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(stack.redis.port), ...args]);
  return stdout.trim();
}

/** A client with a route `<id>.hopgate.test` and its agent online on hub `hub`. */
async function onlineClient(clientId: string, extra: Record<string, unknown> = {}, hub = 0): Promise<{ token: string; agent: ManagedProcess; host: string }> {
  const token = await stack.addClient(clientId);
  const host = `${clientId}.hopgate.test`;
  await stack.setRoute(host, '/', `${clientId}/web`);
  const agent = await stack.startAgent({ clientId, token, services: { web: origin.address }, hub, extra: { refused_retry_min_ms: NO_RETRY_MS, refused_retry_max_ms: NO_RETRY_MS, ...extra } });
  await waitFor(`${host} served`, async () => (await pub.request(host, '/hello')).status === 200, 10_000, 50);
  return { token, agent, host };
}

test('unknown id, wrong token and a malformed id get the same refusal; the hub log names which', { timeout: TEST_TIMEOUT_MS }, async () => {
  await stack.addClient('known');
  const from = hubLog.records.length;
  const ghost = await stack.startAgent({ clientId: 'ghost', token: 'whatever', services: { web: origin.address }, waitOnline: false, extra: { refused_retry_min_ms: NO_RETRY_MS, refused_retry_max_ms: NO_RETRY_MS } });
  const wrong = await stack.startAgent({ clientId: 'known', token: 'not-the-token', services: { web: origin.address }, waitOnline: false, extra: { refused_retry_min_ms: NO_RETRY_MS, refused_retry_max_ms: NO_RETRY_MS } });
  try {
    const a = await ghost.waitForLog('refused', isRefusal);
    const b = await wrong.waitForLog('refused', isRefusal);
    for (const r of [a, b]) {
      assert.equal(r['code'], 'ERR_AUTH_FAILED');
      assert.equal(r['reason'], AUTH_FAILED_REASON);
    }
    // A client id the agent's own config would refuse, sent by hand.
    const malformed = await tryLogin(stack, 'no such id!', 'x');
    assert.deepEqual(malformed, { type: 'hello_reject', code: 'ERR_AUTH_FAILED', reason: AUTH_FAILED_REASON });
    const failures = () => hubLog.records.slice(from).filter((r) => r.msg === 'agent authentication failed');
    await waitFor('three failures logged', () => failures().length === 3);
    const byId = new Map(failures().map((r) => [r['client_id'], r]));
    assert.equal(byId.get('ghost')?.['reason'], 'unknown_client');
    assert.equal(byId.get('known')?.['reason'], 'bad_token');
    assert.equal(byId.get('no such id!')?.['reason'], 'malformed_client_id');
    for (const r of failures()) {
      assert.equal(r.level, 'warn');
      assert.match(String(r['remote']), /^127\.0\.0\.1:\d+$/);
      assert.equal(r['address'], '127.0.0.1');
    }
    assert.equal(JSON.stringify(hubLog.records).includes('not-the-token'), false, 'the presented token is never logged');
  } finally {
    await ghost.stop();
    await wrong.stop();
  }
});

test('an agent of the old wire version (1, JSON) is refused in its own encoding with "upgrade the agent"; the hub logs it', { timeout: TEST_TIMEOUT_MS }, async () => {
  const token = await stack.addClient('old-agent');
  const from = hubLog.records.length;
  const bytes = await tryLegacyLogin(stack, 'old-agent', token);
  // What a version-1 agent reads: its preface (version 1), then [u32 length][u8 tag 3 hello_reject][JSON].
  assert.equal(bytes.toString('latin1', 0, 4), 'HOPG');
  assert.equal(bytes.readUInt16BE(4), 1, 'the preface speaks the old agent\'s version');
  assert.equal(bytes[10], 3, 'hello_reject');
  const reply = JSON.parse(bytes.toString('utf8', 11, 10 + bytes.readUInt32BE(6))) as { code: string; reason: string };
  assert.equal(reply.code, 'ERR_BAD_VERSION');
  assert.match(reply.reason, /this agent speaks wire version 1, the hub speaks 2: upgrade the agent/);
  const logged = await hubLog.waitForLog('refusal logged', (r) => r.msg === 'agent refused' && r['agent_wire_version'] === 1, 5_000, from);
  assert.equal(logged.level, 'warn');
  // A current agent with the same credentials gets in.
  assert.equal((await tryLogin(stack, 'old-agent', token)).type, 'hello_ok');
});

test('hopgate client add --replace ends the session within 2 s; the agent reconnects with the old token and is refused', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { agent, host } = await onlineClient('rotated');
  const cliStartedAt = Date.now();
  const res = await stack.cli(['client', 'add', 'rotated', '--replace']);
  assert.equal(res.code, 0, res.stderr);
  const cliDoneAt = Date.now();
  const ended = await agent.waitForLog('session ended by the hub', (r) => r.msg === 'hub ended this session', TOKEN_REPLACED_DEADLINE_MS);
  const endedAt = Date.parse(String(ended['time']));
  assert.equal(ended['code'], 'ERR_AUTH_FAILED');
  assert.equal(ended['reason'], 'token replaced');
  const hubLine = await hubLog.waitForLog('credentials changed', (r) => r.msg === 'client credentials changed: ending the session' && r['client_id'] === 'rotated');
  assert.equal(hubLine['reason'], 'token replaced');
  const refused = await agent.waitForLog('refused with the old token', isRefusal);
  assert.equal(refused['reason'], AUTH_FAILED_REASON);
  assert.equal((await pub.request(host, '/hello')).status, 502);
  assert.equal(await redisCli('EXISTS', 'hopgate:session:rotated'), '0', 'the session record is released');
  console.log(`# client add --replace: the CLI ran ${cliDoneAt - cliStartedAt} ms; the agent heard go_away ${endedAt - cliStartedAt} ms after it started`);
  await agent.stop();
});

test('redis-cli HSET of another token_sha256 ends the session within 2 s; DEL of the client key too', { timeout: TEST_TIMEOUT_MS }, async () => {
  const first = await onlineClient('handmade');
  const startedAt = Date.now();
  await redisCli('HSET', 'hopgate:client:handmade', 'token_sha256', sha256('some other token'));
  const ended = await first.agent.waitForLog('session ended by the hub', (r) => r.msg === 'hub ended this session', TOKEN_REPLACED_DEADLINE_MS);
  assert.equal(ended['reason'], 'token replaced');
  console.log(`# redis-cli HSET: session ended ${Date.now() - startedAt} ms after the write`);
  await first.agent.waitForLog('refused', isRefusal);
  await first.agent.stop();

  // Rewriting the same hash (an HSET that changes nothing) ends nothing.
  const second = await onlineClient('unchanged');
  const same = await redisCli('HGET', 'hopgate:client:unchanged', 'token_sha256');
  await redisCli('HSET', 'hopgate:client:unchanged', 'token_sha256', same.toUpperCase());
  await redisCli('HSET', 'hopgate:client:unchanged', 'note', 'an extra field');
  await redisCli('HSET', 'hopgate:client:unchanged', 'token_sha256', same);
  const removedAt = Date.now();
  await redisCli('DEL', 'hopgate:client:unchanged');
  const gone = await second.agent.waitForLog('session ended by the hub', (r) => r.msg === 'hub ended this session', TOKEN_REPLACED_DEADLINE_MS);
  assert.equal(gone['reason'], 'client removed', 'the HSETs before the DEL ended nothing');
  console.log(`# redis-cli DEL: session ended ${Date.now() - removedAt} ms after the write`);
  assert.equal(second.agent.countLogs((r) => r.msg === 'hub ended this session'), 1);
  await second.agent.stop();
});

test('keyspace notifications off: the periodic check ends a replaced token\'s session within a third of the session TTL', { timeout: TEST_TIMEOUT_MS }, async () => {
  const ttlMs = 3_000;
  const quiet = await Stack.start({ dir: fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-auth-quiet-')), hubs: 1, redisNotifyKeyspaceEvents: '', hubEnv: { HOPGATE_SESSION_TTL_MS: String(ttlMs) } });
  try {
    await quiet.hubs[0]!.process.waitForLog('notifications off', (r) => r.msg?.startsWith('keyspace notifications are off') === true);
    const token = await quiet.addClient('polled');
    const agent = await quiet.startAgent({ clientId: 'polled', token, services: { web: origin.address }, extra: { refused_retry_min_ms: NO_RETRY_MS, refused_retry_max_ms: NO_RETRY_MS } });
    const res = await quiet.cli(['client', 'add', 'polled', '--replace']);
    assert.equal(res.code, 0, res.stderr);
    const ended = await agent.waitForLog('session ended by the hub', (r) => r.msg === 'hub ended this session', ttlMs / 3 + TOKEN_REPLACED_DEADLINE_MS);
    assert.equal(ended['reason'], 'token replaced');
  } finally {
    await quiet.stop();
  }
});

test('a refused agent backs off on its own schedule: growing delays, one line per step, a success resets it', { timeout: TEST_TIMEOUT_MS }, async () => {
  await stack.addClient('stubborn');
  const agentToken = 'the agent has this one';
  const agent = await stack.startAgent({ clientId: 'stubborn', token: agentToken, services: { web: origin.address }, waitOnline: false, extra: { refused_retry_min_ms: REFUSED_MIN_MS, refused_retry_max_ms: REFUSED_MAX_MS } });
  try {
    await waitFor(`${REFUSALS_OBSERVED} refusals`, () => agent.countLogs(isRefusal) >= REFUSALS_OBSERVED, 30_000, 50);
    const lines = agent.records.filter(isRefusal).slice(0, REFUSALS_OBSERVED);
    lines.forEach((r, i) => {
      const base = Math.min(REFUSED_MAX_MS, REFUSED_MIN_MS * 2 ** i);
      assert.equal(r['attempt'], i + 1);
      const delay = Number(r['delay_ms']);
      assert.ok(delay >= base / 2 - 1 && delay <= base + 1, `attempt ${i + 1}: delay ${delay} outside [${base / 2}, ${base}]`);
      assert.equal(r.level, i === 0 ? 'error' : 'warn');
      assert.equal(r['reason'], AUTH_FAILED_REASON);
    });
    // Nothing else at info or above between the first and the last refusal: one line per step.
    const firstIndex = agent.records.indexOf(lines[0]!);
    const lastIndex = agent.records.indexOf(lines.at(-1)!);
    const others = agent.records.slice(firstIndex, lastIndex + 1).filter((r) => !isRefusal(r) && r.level !== 'debug');
    assert.deepEqual(others.map((r) => r.msg), []);

    // The token becomes valid: the next retry succeeds and resets the refusal backoff.
    await redisCli('HSET', 'hopgate:client:stubborn', 'token_sha256', sha256(agentToken));
    await agent.waitForLog('online', (r) => r.msg === 'online: session established', 10_000);
    const onlineIndex = agent.records.findIndex((r) => r.msg === 'online: session established');
    await redisCli('HSET', 'hopgate:client:stubborn', 'token_sha256', sha256('rotated away'));
    const again = await agent.waitForLog('refused again', isRefusal, 10_000, onlineIndex);
    assert.equal(again['attempt'], 1, 'after a success the refusal backoff starts again');
    assert.ok(Number(again['delay_ms']) <= REFUSED_MIN_MS + 1);
  } finally {
    await agent.stop();
  }
});

test('a forged hopgate.session.claimed with a huge epoch ends nothing; a real takeover by a second agent still works within seconds', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { token, agent, host } = await onlineClient('claimed');
  const from = hubLog.records.length;
  const nc = await connect({ servers: stack.nats.url });
  try {
    const instanceId = agent.records.findLast((r) => r.msg === 'online: session established')?.['instance_id'];
    nc.publish('hopgate.session.claimed', JSON.stringify({ client_id: 'claimed', epoch: Number.MAX_SAFE_INTEGER, hub_id: 'hub-2', instance_id: instanceId }));
    nc.publish('hopgate.session.claimed', JSON.stringify({ client_id: 'claimed', epoch: 'x', hub_id: 'hub-2' }));
    nc.publish('hopgate.session.claimed', 'garbage');
    nc.publish('hopgate.session.claimed', JSON.stringify({ client_id: '__proto__', epoch: 99, hub_id: 'hub-2' }));
    await nc.flush();
  } finally {
    await nc.close();
  }
  const ignored = await hubLog.waitForLog('forged claim ignored', (r) => r.msg === 'session.claimed not confirmed by redis: ignored', 10_000, from);
  assert.equal(ignored['client_id'], 'claimed');
  assert.equal(ignored['claimed_epoch'], Number.MAX_SAFE_INTEGER);
  await waitFor('malformed claims logged', () => hubLog.records.slice(from).filter((r) => r.msg === 'malformed session.claimed message: ignored').length === 2);
  for (let i = 0; i < 5; i++) assert.equal((await pub.request(host, '/hello')).status, 200);
  assert.equal(agent.countLogs((r) => r.msg === 'hub ended this session' || r.msg === 'another agent with this client_id took over the session: stopping'), 0);
  assert.equal(agent.exited, false);

  // A real takeover on the other hub: confirmed in Redis, so hub-1 ends its session at once.
  const takeoverAt = Date.now();
  // The same instance_id from another process: a takeover, not a replica.
  const instanceId = agent.records.findLast((r) => r.msg === 'online: session established')?.['instance_id'];
  const second = await stack.startAgent({ clientId: 'claimed', token, services: { web: origin.address }, hub: 1, extra: { instance_id: instanceId } });
  await agent.waitForLog('replaced', (r) => r.msg === 'another agent with this client_id took over the session: stopping', 5_000);
  console.log(`# takeover: the old agent stopped ${Date.now() - takeoverAt} ms after the new one started (periodic refresh: every ${SESSION_TTL_MS / 3} ms)`);
  await waitFor('old agent exited with 3', () => agent.child.exitCode === 3, 5_000);
  await waitFor('served by the new session', async () => (await pub.request(host, '/hello')).status === 200, 5_000, 50);
  assert.equal(await redisCli('HGET', 'hopgate:session:claimed', 'hub'), 'hub-2');
  await second.stop();
});

test(`throttling: after ${AUTH_FAILURE_BURST} failures from one address the hub refuses without checking; a real agent there gets in once they stop`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const { token } = await onlineClient('neighbour');
  const from = hubLog.records.length;
  const throttledLine = (): LogRecord | undefined => hubLog.records.slice(from).find((r) => r.msg === 'agent logins from this address throttled: refused without checking');
  // Failed logins until the hub says it throttles (credits refill meanwhile: allow a few more than the burst).
  let attempts = 0;
  const loopStartedAt = Date.now();
  while (!throttledLine() && attempts < AUTH_FAILURE_BURST * 4) {
    const reply = await tryLogin(stack, 'neighbour', 'guess');
    assert.deepEqual(reply, { type: 'hello_reject', code: 'ERR_AUTH_FAILED', reason: AUTH_FAILED_REASON });
    attempts += 1;
  }
  const line = throttledLine();
  assert.ok(line, `no throttle after ${attempts} failures`);
  assert.equal(line['address'], '127.0.0.1');
  assert.equal(line.level, 'warn');
  const checked = hubLog.records.slice(from).filter((r) => r.msg === 'agent authentication failed').length;
  assert.ok(checked <= AUTH_FAILURE_BURST + refilledIn(Date.now() - loopStartedAt), `${checked} attempts were checked`);
  console.log(`# throttle: ${attempts} failed logins, ${checked} checked against Redis`);

  // Throttled attempts are answered without asking Redis (HGET is how the hub reads a client's
  // token hash; a periodic session check may add one per live session) and are not logged one by one.
  const hgets = async (): Promise<number> => {
    const redis = new Redis(stack.redis.url);
    try {
      const info = await redis.info('commandstats');
      return Number(/cmdstat_hget:calls=(\d+)/.exec(info)?.[1] ?? 0);
    } finally {
      redis.disconnect();
    }
  };
  const throttledTries = 8;
  const hgetBefore = await hgets();
  const failuresBefore = hubLog.countLogs((r) => r.msg === 'agent authentication failed');
  const triesStartedAt = Date.now();
  for (let i = 0; i < throttledTries; i++) {
    const reply = await tryLogin(stack, 'neighbour', 'guess');
    assert.deepEqual(reply, { type: 'hello_reject', code: 'ERR_AUTH_FAILED', reason: AUTH_FAILED_REASON });
  }
  const hgetDelta = (await hgets()) - hgetBefore;
  const failuresChecked = hubLog.countLogs((r) => r.msg === 'agent authentication failed') - failuresBefore;
  const triesTook = Date.now() - triesStartedAt;
  assert.ok(failuresChecked <= refilledIn(triesTook), `${failuresChecked} of ${throttledTries} throttled attempts were checked in ${triesTook} ms`);
  assert.ok(failuresChecked < throttledTries);
  assert.ok(hgetDelta <= failuresChecked + 3, `${hgetDelta} HGETs for ${throttledTries} throttled attempts`);
  assert.equal(hubLog.records.slice(from).filter((r) => r.msg === 'agent logins from this address throttled: refused without checking').length, 1, 'one throttle line per interval');

  // Sessions already up keep serving (other addresses: see the AuthThrottle unit tests; here every peer is 127.0.0.1).
  assert.equal((await pub.request('neighbour.hopgate.test', '/hello')).status, 200);

  // The bound: once the failures stop, a real agent from the same address is in within one
  // refill interval plus its own retry delay.
  const stoppedAt = Date.now();
  const agent = await stack.startAgent({ clientId: 'neighbour', token, services: { web: origin.address }, waitOnline: false, extra: { refused_retry_min_ms: 250, refused_retry_max_ms: 500 } });
  await agent.waitForLog('online', (r) => r.msg === 'online: session established', AUTH_FAILURE_REFILL_INTERVAL_MS + 500 + 5_000);
  const took = Date.now() - stoppedAt;
  console.log(`# throttle: a valid agent from the throttled address online ${took} ms after the failures stopped (refused ${agent.countLogs(isRefusal)} times first)`);
  await agent.stop();
});
