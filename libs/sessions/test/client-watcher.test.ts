import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { startRedis, waitFor, type RunningServer } from '@hopgate/testkit';
import { ClientStore, ClientWatcher, hashToken } from '../src/index.js';

let server: RunningServer;
let redis: Redis;

before(async () => {
  server = await startRedis({ notifyKeyspaceEvents: 'Kgh' });
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

test('ClientStore.check returns the matched hash in lower case; tokenHash reads it, undefined when gone or malformed', async () => {
  const keys = new RedisKeys('cs:');
  const store = new ClientStore(redis, keys);
  await redis.hset(keys.client('upper'), 'token_sha256', hashToken('t0k').toUpperCase());
  assert.deepEqual(await store.check('upper', 't0k'), { result: 'ok', tokenSha256: hashToken('t0k') });
  assert.deepEqual(await store.check('upper', 'other'), { result: 'bad_token' });
  assert.deepEqual(await store.check('nobody', 't0k'), { result: 'unknown_client' });
  assert.deepEqual(await store.check('bad id', 't0k'), { result: 'unknown_client' });
  assert.equal(await store.tokenHash('upper'), hashToken('t0k'));
  assert.equal(await store.tokenHash('nobody'), undefined);
  await redis.hset(keys.client('broken'), 'token_sha256', 'not hex');
  assert.equal(await store.tokenHash('broken'), undefined);
});

test('ClientWatcher: a change event per write to a client key of its prefix, nothing for other keys; resync once subscribed', async () => {
  const keys = new RedisKeys('cw:');
  const watcher = new ClientWatcher(redis, { keys });
  const changes: string[] = [];
  let resyncs = 0;
  watcher.on('change', (id) => changes.push(id));
  watcher.on('resync', () => (resyncs += 1));
  try {
    await watcher.ensureSubscribed();
    await waitFor('subscribed', () => watcher.isSubscribed);
    assert.equal(watcher.notifications, 'on');
    await waitFor('resync after subscribing', () => resyncs === 1);
    await redis.hset(keys.session('laptop'), 'hub', 'h');
    await redis.hset(keys.route('a.example'), '/', 'laptop/web');
    await redis.hset(new RedisKeys('other:').client('laptop'), 'token_sha256', hashToken('x'));
    await redis.hset(keys.client('laptop'), 'token_sha256', hashToken('x'));
    await redis.hset(keys.client('laptop'), 'token_sha256', hashToken('y'));
    await redis.del(keys.client('laptop'));
    await waitFor('three changes', () => changes.length === 3);
    assert.deepEqual(changes, ['laptop', 'laptop', 'laptop']);
  } finally {
    watcher.stop();
  }
});

test('ClientWatcher: notifications off -> no subscription; once an operator turns them on, ensureSubscribed subscribes', async () => {
  const quiet = await startRedis({ notifyKeyspaceEvents: '' });
  const client = new Redis(quiet.url);
  const keys = new RedisKeys();
  const watcher = new ClientWatcher(client, { keys });
  const changes: string[] = [];
  watcher.on('change', (id) => changes.push(id));
  try {
    await watcher.ensureSubscribed();
    assert.equal(watcher.notifications, 'off');
    assert.equal(watcher.isSubscribed, false);
    // The operator's move (a service never runs CONFIG SET).
    await client.config('SET', 'notify-keyspace-events', 'Kh');
    await watcher.ensureSubscribed();
    await waitFor('subscribed', () => watcher.isSubscribed);
    await client.hset(keys.client('late'), 'token_sha256', hashToken('x'));
    await waitFor('change seen', () => changes.includes('late'));
  } finally {
    watcher.stop();
    client.disconnect();
    await quiet.stop();
  }
});

test('ClientWatcher: a dropped subscriber connection reconnects and says resync (events may have been lost)', async () => {
  const keys = new RedisKeys('cr:');
  const watcher = new ClientWatcher(redis, { keys });
  let resyncs = 0;
  const changes: string[] = [];
  watcher.on('resync', () => (resyncs += 1));
  watcher.on('change', (id) => changes.push(id));
  try {
    await watcher.ensureSubscribed();
    await waitFor('first resync', () => resyncs === 1);
    await redis.client('KILL', 'TYPE', 'pubsub');
    await waitFor('resync after reconnect', () => resyncs === 2, 10_000);
    await waitFor('events flow again', async () => {
      await redis.hset(keys.client('back'), 'token_sha256', hashToken(String(Date.now())));
      return changes.includes('back');
    }, 10_000, 100);
  } finally {
    watcher.stop();
  }
});
