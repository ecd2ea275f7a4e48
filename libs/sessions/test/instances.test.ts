import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { startRedis, type RunningServer } from '@hopgate/testkit';
import { InstanceStore, SessionStore, LuaScript } from '../src/index.js';
import { REFRESH_INSTANCE_SCRIPT, RELEASE_INSTANCE_SCRIPT } from '../src/instance-scripts.js';

let server: RunningServer;
let redis: Redis;
let prefixCounter = 0;

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

function fresh(): { keys: RedisKeys; store: InstanceStore; sessions: SessionStore } {
  prefixCounter += 1;
  const keys = new RedisKeys(`i${prefixCounter}:`);
  return { keys, store: new InstanceStore(redis, keys), sessions: new SessionStore(redis, keys) };
}

const claimOf = (hubId: string, epoch: number) => ({ hubId, epoch, remote: `203.0.113.7:${40000 + epoch}`, connectedAt: 1_700_000_000_000 + epoch });
const TTL_MS = 10_000;

test('replicas coexist: one lookup returns every live instance; the client-wide record names the most recent claim', async () => {
  const { keys, store, sessions } = fresh();
  const e1 = await sessions.nextEpoch();
  const e2 = await sessions.nextEpoch();
  assert.equal(await store.claim('nas', 'nas-a', claimOf('hub-1', e1), TTL_MS), true);
  assert.equal(await store.claim('nas', 'nas-b', claimOf('hub-2', e2), TTL_MS), true);
  const live = (await store.get('nas')).sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  assert.deepEqual(live, [
    { instanceId: 'nas-a', hubId: 'hub-1', epoch: e1 },
    { instanceId: 'nas-b', hubId: 'hub-2', epoch: e2 },
  ]);
  assert.deepEqual(await redis.hgetall(keys.instance('nas', 'nas-a')), { hub: 'hub-1', epoch: String(e1), connected_at: String(1_700_000_000_000 + e1), remote: `203.0.113.7:${40000 + e1}` });
  assert.deepEqual((await redis.smembers(keys.instances('nas'))).sort(), ['nas-a', 'nas-b']);
  const session = await sessions.get('nas');
  assert.equal(session?.hubId, 'hub-2');
  assert.equal(session?.epoch, e2);
  assert.equal(await redis.hget(keys.session('nas'), 'instance'), 'nas-b');
  const ttl = await redis.pttl(keys.instance('nas', 'nas-a'));
  assert.ok(ttl > 0 && ttl <= TTL_MS, `instance record TTL ${ttl}`);
  assert.deepEqual((await store.list()).map((l) => [l.clientId, l.instanceId, l.hubId]), [['nas', 'nas-a', 'hub-1'], ['nas', 'nas-b', 'hub-2']]);
  assert.deepEqual(await store.get('nobody'), []);
});

/**
 * The same instance reconnects to the SAME hub: the hub id alone cannot tell the two
 * sessions apart, only the epoch can. Returns what the old session's refresh and release did.
 */
async function sameHubReconnect(refresh: LuaScript, release: LuaScript): Promise<{ refreshed: unknown; released: unknown; after: Record<string, string>; ttl: number }> {
  const { keys, store, sessions } = fresh();
  const old = await sessions.nextEpoch();
  const next = await sessions.nextEpoch();
  assert.equal(await store.claim('laptop', 'box', claimOf('hub-1', old), TTL_MS), true);
  assert.equal(await store.claim('laptop', 'box', claimOf('hub-1', next), 2_000), true, 'the newer epoch takes the instance');
  assert.equal(await store.claim('laptop', 'box', claimOf('hub-1', old), TTL_MS), false, 'the older epoch cannot take it back');
  const scriptKeys = [keys.instance('laptop', 'box'), keys.instances('laptop'), keys.session('laptop')];
  const refreshed = await refresh.run(redis, scriptKeys, ['hub-1', String(old), String(60_000), 'box']);
  const released = await release.run(redis, scriptKeys, ['hub-1', String(old), 'box']);
  return { refreshed, released, after: await redis.hgetall(keys.instance('laptop', 'box')), ttl: await redis.pttl(keys.instance('laptop', 'box')) };
}

test('fencing: after a reconnect to the same hub, the old session\'s refresh and release cannot touch the newer record', async () => {
  const { refreshed, released, after, ttl } = await sameHubReconnect(REFRESH_INSTANCE_SCRIPT, RELEASE_INSTANCE_SCRIPT);
  assert.equal(refreshed, 0);
  assert.equal(released, 0);
  assert.equal(after['hub'], 'hub-1');
  assert.ok(Number(after['epoch']) > 0);
  assert.ok(ttl > 0 && ttl <= 2_000, `the newer record keeps its own TTL (${ttl} ms), not the old session's 60 s`);
});

test('the fencing test above fails when the epoch check is dropped from refresh or from release', async () => {
  const dropEpoch = (script: LuaScript): LuaScript => {
    const source = script.source.replace("cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2]", "cur[1] ~= ARGV[1]");
    assert.notEqual(source, script.source, 'the epoch check is where this test expects it');
    return new LuaScript(source);
  };
  const noEpochInRefresh = await sameHubReconnect(dropEpoch(REFRESH_INSTANCE_SCRIPT), RELEASE_INSTANCE_SCRIPT);
  assert.equal(noEpochInRefresh.refreshed, 1, 'without the check the old session extends the newer record');
  const noEpochInRelease = await sameHubReconnect(REFRESH_INSTANCE_SCRIPT, dropEpoch(RELEASE_INSTANCE_SCRIPT));
  assert.equal(noEpochInRelease.released, 1, 'without the check the old session deletes the newer record');
  assert.deepEqual(noEpochInRelease.after, {});
});

test('an unrefreshed instance (its hub died) leaves the lookup when its TTL ends; the next claim prunes the index', async () => {
  const { keys, store, sessions } = fresh();
  const e1 = await sessions.nextEpoch();
  const e2 = await sessions.nextEpoch();
  await store.claim('c', 'dead', claimOf('hub-1', e1), 150);
  await store.claim('c', 'alive', claimOf('hub-2', e2), TTL_MS);
  const deadline = Date.now() + 5_000;
  while ((await store.get('c')).length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  assert.deepEqual(await store.get('c'), [{ instanceId: 'alive', hubId: 'hub-2', epoch: e2 }]);
  assert.equal(await store.refresh('c', 'alive', 'hub-2', e2, TTL_MS), true);
  await store.claim('c', 'alive', claimOf('hub-2', e2), TTL_MS);
  assert.deepEqual(await redis.smembers(keys.instances('c')), ['alive']);
});

test('release removes only its own instance; the last release leaves the client offline', async () => {
  const { keys, store, sessions } = fresh();
  const e1 = await sessions.nextEpoch();
  const e2 = await sessions.nextEpoch();
  await store.claim('c', 'a', claimOf('hub-1', e1), TTL_MS);
  await store.claim('c', 'b', claimOf('hub-1', e2), TTL_MS);
  assert.equal(await store.release('c', 'b', 'hub-2', e2), false, 'another hub cannot release it');
  assert.equal(await store.release('c', 'b', 'hub-1', e2), true);
  assert.deepEqual(await store.get('c'), [{ instanceId: 'a', hubId: 'hub-1', epoch: e1 }]);
  assert.equal(await redis.exists(keys.session('c')), 0, 'the client-wide record named b: gone with it');
  assert.equal(await store.refresh('c', 'a', 'hub-1', e1, TTL_MS), true);
  assert.equal(await redis.hget(keys.session('c'), 'instance'), 'a', 'the next refresh of a live instance writes it again');
  assert.equal(await store.release('c', 'a', 'hub-1', e1), true);
  assert.deepEqual(await store.get('c'), []);
  assert.equal(await redis.exists(keys.instances('c')), 0);
});

test('DEL hopgate:session:<id> does not end a session: the next refresh writes it again with the same epoch', async () => {
  const { keys, store, sessions } = fresh();
  const e = await sessions.nextEpoch();
  await store.claim('c', 'a', claimOf('hub-1', e), TTL_MS);
  await redis.del(keys.session('c'));
  assert.deepEqual(await store.get('c'), [{ instanceId: 'a', hubId: 'hub-1', epoch: e }], 'routing reads the instance records');
  assert.equal(await store.refresh('c', 'a', 'hub-1', e, TTL_MS), true);
  assert.deepEqual(await sessions.get('c'), { clientId: 'c', hubId: 'hub-1', epoch: e, connectedAt: 1_700_000_000_000 + e, remote: `203.0.113.7:${40000 + e}` });
});

test('a session recorded by a hub from before replicas (client-wide record only) is found as one instance with id ""', async () => {
  const { store, sessions } = fresh();
  const e = await sessions.nextEpoch();
  await sessions.claim('old', claimOf('hub-9', e), TTL_MS);
  assert.deepEqual(await store.get('old'), [{ instanceId: '', hubId: 'hub-9', epoch: e }]);
});

test('the lookup runs with EVALSHA_RO/EVAL_RO: a read-only ACL user can run it', async () => {
  const { keys, store, sessions } = fresh();
  const e = await sessions.nextEpoch();
  await store.claim('ro', 'a', claimOf('hub-1', e), TTL_MS);
  await redis.call('ACL', 'SETUSER', 'reader', 'on', '>pw', 'resetkeys', `%R~${keys.prefix}*`, '-@all', '+evalsha_ro', '+eval_ro', '+smembers', '+exists', '+hmget');
  const reader = new Redis(server.url, { username: 'reader', password: 'pw' });
  try {
    await redis.call('SCRIPT', 'FLUSH');
    assert.deepEqual(await new InstanceStore(reader, keys).get('ro'), [{ instanceId: 'a', hubId: 'hub-1', epoch: e }]);
  } finally {
    reader.disconnect();
  }
});

test('a claim raises a lower epoch counter (Redis lost its data): later epochs stay above re-claimed ones', async () => {
  const { keys, store, sessions } = fresh();
  await store.claim('c', 'a', claimOf('hub-1', 500), TTL_MS);
  assert.equal(await redis.get(keys.sessionEpochCounter), '500');
  assert.ok((await sessions.nextEpoch()) > 500);
  await store.claim('c', 'b', claimOf('hub-1', 7), TTL_MS);
  assert.ok(Number(await redis.get(keys.sessionEpochCounter)) > 500, 'never lowered');
});

test('a claim raises a lost epoch counter to its epoch, never lowers it: later sessions still outrank a re-asserted one', async () => {
  const { keys, store, sessions } = fresh();
  // The counter is gone (a Redis that lost its data) while a hub re-asserts its session of epoch 57.
  assert.equal(await store.claim('c', 'a', claimOf('hub-1', 57), TTL_MS), true);
  assert.equal(await redis.get(keys.sessionEpochCounter), '57');
  assert.equal(await sessions.nextEpoch(), 58, 'a new session outranks the re-asserted epoch 57');
  assert.equal(await store.claim('c', 'b', claimOf('hub-1', 3), TTL_MS), true);
  assert.equal(await sessions.nextEpoch(), 59, 'a lower epoch leaves the counter alone');
});
