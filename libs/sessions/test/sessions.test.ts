import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { startRedis, waitFor, type RunningServer } from '@hopgate/testkit';
import { SessionStore, ClientStore, HubRegistry, OwnerCache, hashToken, type SessionRecord } from '../src/index.js';

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

/** A fresh key prefix per test, so tests cannot see each other's keys. */
function freshKeys(): RedisKeys {
  prefixCounter += 1;
  return new RedisKeys(`t${prefixCounter}:`);
}

const claimOf = (hubId: string, epoch: number) => ({ hubId, epoch, remote: '203.0.113.7:40000', connectedAt: 1_700_000_000_000 + epoch });

test('epochs come from one counter and only grow, across stores', async () => {
  const keys = freshKeys();
  const a = new SessionStore(redis, keys);
  const other = new Redis(server.url);
  const b = new SessionStore(other, keys);
  const seen: number[] = [];
  for (let i = 0; i < 20; i++) seen.push(await (i % 2 ? a : b).nextEpoch());
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `epoch ${seen[i]} after ${seen[i - 1]}`);
  assert.equal(await redis.get(keys.sessionEpochCounter), String(seen.at(-1)));
  const concurrent = await Promise.all(Array.from({ length: 50 }, () => a.nextEpoch()));
  assert.equal(new Set(concurrent).size, 50, 'concurrent epochs are unique');
  assert.ok(Math.min(...concurrent) > seen.at(-1)!);
  other.disconnect();
});

test('claim writes the documented hash with a TTL; get decodes it', async () => {
  const keys = freshKeys();
  const store = new SessionStore(redis, keys);
  const epoch = await store.nextEpoch();
  assert.equal(await store.claim('laptop', claimOf('hub-1', epoch), 10_000), true);
  assert.deepEqual(await redis.hgetall(keys.session('laptop')), {
    hub: 'hub-1',
    epoch: String(epoch),
    connected_at: String(1_700_000_000_000 + epoch),
    remote: '203.0.113.7:40000',
  });
  const ttl = await redis.pttl(keys.session('laptop'));
  assert.ok(ttl > 9_000 && ttl <= 10_000, `pttl ${ttl}`);
  assert.deepEqual(await store.get('laptop'), {
    clientId: 'laptop',
    hubId: 'hub-1',
    epoch,
    connectedAt: 1_700_000_000_000 + epoch,
    remote: '203.0.113.7:40000',
  } satisfies SessionRecord);
  assert.equal(await store.get('nobody'), undefined);
});

test('the newer claim wins, an older claim is refused, the same epoch is idempotent only for its hub', async () => {
  const store = new SessionStore(redis, freshKeys());
  const e1 = await store.nextEpoch();
  const e2 = await store.nextEpoch();
  assert.equal(await store.claim('c', claimOf('hub-1', e1), 10_000), true);
  assert.equal(await store.claim('c', claimOf('hub-2', e2), 10_000), true, 'newer epoch replaces');
  assert.equal((await store.get('c'))?.hubId, 'hub-2');
  assert.equal(await store.claim('c', claimOf('hub-1', e1), 10_000), false, 'older epoch refused');
  assert.equal((await store.get('c'))?.hubId, 'hub-2');
  assert.equal(await store.claim('c', claimOf('hub-3', e2), 10_000), false, 'same epoch, other hub: refused');
  assert.equal(await store.claim('c', claimOf('hub-2', e2), 10_000), true, 'same epoch, same hub: retry is fine');
  assert.equal((await store.get('c'))?.epoch, e2);
});

test('refresh is false once the session was replaced; true while it is ours', async () => {
  const keys = freshKeys();
  const store = new SessionStore(redis, keys);
  const e1 = await store.nextEpoch();
  await store.claim('c', claimOf('hub-1', e1), 1_000);
  assert.equal(await store.refresh('c', 'hub-1', e1, 60_000), true);
  assert.ok((await redis.pttl(keys.session('c'))) > 50_000, 'TTL extended');
  assert.equal(await store.refresh('c', 'hub-2', e1, 60_000), false, 'another hub cannot refresh');
  const e2 = await store.nextEpoch();
  await store.claim('c', claimOf('hub-2', e2), 5_000);
  assert.equal(await store.refresh('c', 'hub-1', e1, 60_000), false, 'replaced: the old owner must close');
  assert.ok((await redis.pttl(keys.session('c'))) <= 5_000, 'the old owner did not extend the new record');
  assert.equal(await store.refresh('c', 'hub-2', e2, 5_000), true);
  assert.equal(await store.refresh('gone', 'hub-2', e2, 5_000), false, 'no record: false');
});

test('release deletes only the owner\'s record', async () => {
  const store = new SessionStore(redis, freshKeys());
  const e1 = await store.nextEpoch();
  const e2 = await store.nextEpoch();
  await store.claim('c', claimOf('hub-2', e2), 10_000);
  assert.equal(await store.release('c', 'hub-1', e1), false, 'an older owner cannot delete');
  assert.equal(await store.release('c', 'hub-1', e2), false, 'another hub cannot delete');
  assert.ok(await store.get('c'));
  assert.equal(await store.release('c', 'hub-2', e2), true);
  assert.equal(await store.get('c'), undefined);
  assert.equal(await store.release('c', 'hub-2', e2), false);
});

test('an unrefreshed session expires', async () => {
  const keys = freshKeys();
  const store = new SessionStore(redis, keys);
  const e = await store.nextEpoch();
  await store.claim('c', claimOf('hub-1', e), 150);
  assert.ok(await store.get('c'));
  await waitFor('session expired', async () => (await store.get('c')) === undefined, 3_000);
  assert.equal(await redis.exists(keys.session('c')), 0);
  assert.equal(await store.refresh('c', 'hub-1', e, 1_000), false);
});

test('malformed records count as absent, and a claim overwrites them', async () => {
  const keys = freshKeys();
  const store = new SessionStore(redis, keys);
  await redis.hset(keys.session('a'), { hub: 'h', epoch: 'nope', connected_at: '1', remote: 'r' });
  await redis.hset(keys.session('b'), { hub: '', epoch: '3', connected_at: '1', remote: 'r' });
  await redis.hset(keys.session('c'), { hub: 'h', epoch: '3', remote: 'r' });
  await redis.hset(keys.session('d'), { hub: 'h', epoch: '3', connected_at: '1.5', remote: 'r' });
  await redis.hset(keys.session('ok'), { hub: 'h', epoch: '3', connected_at: '1', remote: 'r' });
  await redis.set(keys.session('str'), 'x');
  for (const id of ['a', 'b', 'c', 'd']) assert.equal(await store.get(id), undefined, id);
  const listed = await store.list();
  assert.deepEqual(listed.map((s) => [s.clientId, s.ttlMs]), [['ok', -1]]);
  assert.equal(await store.claim('a', claimOf('hub-1', 1), 10_000), true, 'a malformed epoch does not fence');
  assert.equal((await store.get('a'))?.hubId, 'hub-1');
});

test('list returns live sessions sorted, with their TTL', async () => {
  const store = new SessionStore(redis, freshKeys());
  for (const id of ['zeta', 'alpha', 'mid']) await store.claim(id, claimOf(`hub-${id}`, await store.nextEpoch()), 30_000);
  const listed = await store.list();
  assert.deepEqual(listed.map((s) => s.clientId), ['alpha', 'mid', 'zeta']);
  for (const s of listed) assert.ok(s.ttlMs > 25_000 && s.ttlMs <= 30_000);
});

test('scripts survive SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
  const store = new SessionStore(redis, freshKeys());
  const e = await store.nextEpoch();
  await store.claim('c', claimOf('hub-1', e), 10_000);
  await redis.script('FLUSH');
  assert.equal(await store.refresh('c', 'hub-1', e, 10_000), true);
});

test('ClientStore: add stores only the hash; verify says ok, unknown_client or bad_token', async () => {
  const keys = freshKeys();
  const clients = new ClientStore(redis, keys);
  const token = await clients.add('laptop');
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  const stored = await redis.hgetall(keys.client('laptop'));
  assert.deepEqual(stored, { token_sha256: hashToken(token) });
  assert.match(stored['token_sha256'] ?? '', /^[0-9a-f]{64}$/);
  assert.ok(!JSON.stringify(stored).includes(token));
  assert.equal(await clients.verify('laptop', token), 'ok');
  assert.equal(await clients.verify('laptop', `${token}x`), 'bad_token');
  assert.equal(await clients.verify('laptop', ''), 'bad_token');
  assert.equal(await clients.verify('other', token), 'unknown_client');
  assert.equal(await clients.verify('../bad id', token), 'unknown_client');
  await assert.rejects(clients.add('laptop'), { code: 'ERR_BAD_CONFIG' }, 'an existing client is not overwritten');
  assert.equal(await clients.verify('laptop', token), 'ok');
  const rotated = await clients.add('laptop', { replace: true });
  assert.equal(await clients.verify('laptop', rotated), 'ok');
  assert.equal(await clients.verify('laptop', token), 'bad_token', 'the old token stops working');
  await assert.rejects(clients.add('bad id'), { code: 'ERR_BAD_CONFIG' });
});

test('ClientStore: a hash written by hand (sha256sum, any hex case) verifies; a malformed one never does', async () => {
  const keys = freshKeys();
  const clients = new ClientStore(redis, keys);
  await redis.hset(keys.client('byhand'), 'token_sha256', hashToken('s3cret').toUpperCase());
  assert.equal(await clients.verify('byhand', 's3cret'), 'ok');
  const bySha256sum = execSync('printf %s "$TOKEN" | sha256sum', { env: { ...process.env, TOKEN: 's3cret' } }).toString().split(' ')[0];
  assert.equal(hashToken('s3cret'), bySha256sum, 'the documented redis-cli recipe computes the same hash');
  await redis.hset(keys.client('broken'), 'token_sha256', 'not-hex');
  assert.equal(await clients.verify('broken', 'anything'), 'bad_token');
});

test('ClientStore: list and remove (remove also drops the session record)', async () => {
  const keys = freshKeys();
  const clients = new ClientStore(redis, keys);
  const sessions = new SessionStore(redis, keys);
  await clients.add('b');
  await clients.add('a');
  assert.deepEqual(await clients.list(), ['a', 'b']);
  const e = await sessions.nextEpoch();
  await sessions.claim('a', claimOf('hub-1', e), 10_000);
  assert.equal(await clients.remove('a'), true);
  assert.equal(await clients.remove('a'), false);
  assert.deepEqual(await clients.list(), ['b']);
  assert.equal(await sessions.refresh('a', 'hub-1', e, 10_000), false, 'the owning hub learns at its next refresh');
});

test('HubRegistry: register with TTL, list, expiry, unregister', async () => {
  const keys = freshKeys();
  const hubs = new HubRegistry(redis, keys);
  await hubs.register('hub-1', { startedAt: 1000, dtlsListen: '0.0.0.0:443' }, 20_000);
  await hubs.register('hub-2', { startedAt: 2000, dtlsListen: '0.0.0.0:4433', natsSubject: 'hopgate.hub.hub-2' }, 150);
  assert.deepEqual(await redis.hgetall(keys.hub('hub-1')), { started_at: '1000', dtls_listen: '0.0.0.0:443' });
  const listed = await hubs.list();
  assert.deepEqual(listed.map((h) => [h.hubId, h.dtlsListen, h.natsSubject]), [
    ['hub-1', '0.0.0.0:443', undefined],
    ['hub-2', '0.0.0.0:4433', 'hopgate.hub.hub-2'],
  ]);
  await waitFor('hub-2 expired', async () => (await hubs.list()).length === 1, 3_000);
  await hubs.register('hub-1', { startedAt: 1000, dtlsListen: '0.0.0.0:443' }, 20_000);
  assert.deepEqual(await hubs.get('hub-1'), { hubId: 'hub-1', startedAt: 1000, dtlsListen: '0.0.0.0:443' });
  await hubs.unregister('hub-1');
  assert.deepEqual(await hubs.list(), []);
  const t0 = Date.now();
  await hubs.register('hub-3', { dtlsListen: '127.0.0.1:4433' }, 20_000);
  const first = (await hubs.get('hub-3'))?.startedAt ?? 0;
  assert.ok(first >= t0 && first <= Date.now(), 'started_at defaults to the first registration');
  await hubs.register('hub-3', { dtlsListen: '127.0.0.1:4433' }, 20_000);
  assert.equal((await hubs.get('hub-3'))?.startedAt, first, 'a refresh keeps started_at');
});

test('OwnerCache: caches for ttlMs, shares concurrent round trips, invalidate drops at once', async () => {
  const keys = freshKeys();
  const store = new SessionStore(redis, keys);
  let gets = 0;
  const counting = { get: (id: string) => ((gets += 1), store.get(id)) };
  let clock = 1_000_000;
  const cache = new OwnerCache(counting, { ttlMs: 1_000, now: () => clock });
  const e1 = await store.nextEpoch();
  await store.claim('c', claimOf('hub-1', e1), 30_000);

  const answers = await Promise.all(Array.from({ length: 20 }, () => cache.lookup('c')));
  assert.equal(gets, 1, '20 concurrent lookups, one Redis round trip');
  for (const a of answers) assert.equal(a?.hubId, 'hub-1');

  const e2 = await store.nextEpoch();
  await store.claim('c', claimOf('hub-2', e2), 30_000);
  assert.equal((await cache.lookup('c'))?.hubId, 'hub-1', 'cached within ttl');
  assert.equal(gets, 1);
  clock += 1_001;
  assert.equal((await cache.lookup('c'))?.hubId, 'hub-2', 'refetched after ttl');
  assert.equal(gets, 2);

  const e3 = await store.nextEpoch();
  await store.claim('c', claimOf('hub-3', e3), 30_000);
  cache.invalidate('c');
  assert.equal((await cache.lookup('c'))?.hubId, 'hub-3', 'invalidate forces a refetch');
  assert.equal(gets, 3);

  assert.equal(await cache.lookup('offline'), undefined);
  assert.equal(await cache.lookup('offline'), undefined);
  assert.equal(gets, 4, '"no session" is cached too');
});

test('OwnerCache: a lookup in flight during invalidate is not cached; errors are not cached', async () => {
  let release: (r: SessionRecord | undefined) => void = () => undefined;
  let calls = 0;
  const slow = {
    get: () => {
      calls += 1;
      return new Promise<SessionRecord | undefined>((r) => (release = r));
    },
  };
  const cache = new OwnerCache(slow, { ttlMs: 60_000 });
  const first = cache.lookup('c');
  cache.invalidate('c');
  const stale: SessionRecord = { clientId: 'c', hubId: 'old', epoch: 1, connectedAt: 0, remote: '' };
  release(stale);
  assert.equal(await first, stale);
  assert.equal(cache.size, 0, 'the answer that raced an invalidate was dropped');
  const second = cache.lookup('c');
  assert.equal(calls, 2);
  release(undefined);
  await second;
  assert.equal(cache.size, 1);

  let fail = true;
  const flaky = { get: async () => { if (fail) throw new Error('redis down'); return undefined; } };
  const cache2 = new OwnerCache(flaky);
  await assert.rejects(cache2.lookup('x'), /redis down/);
  fail = false;
  assert.equal(await cache2.lookup('x'), undefined, 'the error was not cached');
});

test('OwnerCache: while the source fails, the last known owner answers (after its ttl and after invalidate); an id never read fails', async () => {
  const owner: SessionRecord = { clientId: 'c', hubId: 'hub-1', epoch: 7, connectedAt: 0, remote: '' };
  let down = false;
  let reads = 0;
  const source = {
    get: async (id: string): Promise<SessionRecord | undefined> => {
      reads += 1;
      if (down) throw new Error('Stream isn\'t writeable and enableOfflineQueue options is false');
      return id === 'c' ? owner : undefined;
    },
  };
  let clock = 1_000_000;
  const cache = new OwnerCache(source, { ttlMs: 1_000, now: () => clock });
  assert.equal((await cache.lookup('c'))?.hubId, 'hub-1');
  assert.equal(await cache.lookup('gone'), undefined);
  down = true;
  clock += 60_000;
  assert.equal((await cache.lookup('c'))?.hubId, 'hub-1', 'past its ttl, the last known owner answers while the source fails');
  assert.equal(await cache.lookup('gone'), undefined, '"no session" is kept the same way');
  cache.invalidate('c');
  assert.equal((await cache.lookup('c'))?.hubId, 'hub-1', 'invalidate during the outage keeps the fallback');
  assert.equal(cache.staleAnswerCount, 3);
  assert.equal(reads, 5, 'each stale answer came after a read was tried');
  await assert.rejects(cache.lookup('never-seen'), /enableOfflineQueue/);
  down = false;
  const moved: SessionRecord = { ...owner, hubId: 'hub-2', epoch: 8 };
  source.get = async () => moved;
  assert.equal((await cache.lookup('c'))?.hubId, 'hub-1', 'while the source is known to fail, the last owner answers at once and a read runs behind it');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal((await cache.lookup('c'))?.hubId, 'hub-2', 'that read replaced the fallback once the source answered');
});

test('OwnerCache: a hung source holds one lookup, not every one: once a read failed, known ids answer at once', async () => {
  const owner: SessionRecord = { clientId: 'c', hubId: 'hub-1', epoch: 1, connectedAt: 0, remote: '' };
  let mode: 'ok' | 'hung' | 'fail' = 'ok';
  let hungReads = 0;
  const source = {
    get: (): Promise<SessionRecord | undefined> => {
      if (mode === 'ok') return Promise.resolve(owner);
      if (mode === 'fail') return Promise.reject(new Error('Command timed out'));
      hungReads += 1;
      return new Promise(() => undefined); // a hung server: no answer
    },
  };
  let clock = 0;
  const cache = new OwnerCache(source, { ttlMs: 1_000, now: () => clock });
  await cache.lookup('c');
  clock += 5_000;
  mode = 'fail'; // the first read after the TTL times out (the connection's command timeout)
  assert.equal((await cache.lookup('c'))?.hubId, 'hub-1');
  mode = 'hung';
  clock += 5_000;
  const answers = await Promise.all([cache.lookup('c'), cache.lookup('c'), cache.lookup('c')]);
  assert.deepEqual(answers.map((a) => a?.hubId), ['hub-1', 'hub-1', 'hub-1'], 'answered without waiting for the hung read');
  assert.equal(hungReads, 1, 'one read behind them, shared');
});

test('OwnerCache<V>: generic over the value a source gives', async () => {
  const cache = new OwnerCache<readonly string[]>({ get: async (id) => [`${id}-a`, `${id}-b`] });
  assert.deepEqual(await cache.lookup('x'), ['x-a', 'x-b']);
});
