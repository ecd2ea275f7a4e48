import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { startRedis, waitFor, freeTcpPort } from '@hopgate/testkit';
import { RouteLoader, type RouteDiff, type RouteTable } from '../src/index.js';
import { captureLogger } from '@hopgate/testkit';
import { redisAt, redisOnPort } from './helpers.js';

async function configSetCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  const m = /cmdstat_config\|set:calls=(\d+)/.exec(stats);
  return m ? Number(m[1]) : 0;
}

test('with keyspace notifications on, an HSET/HDEL/DEL is applied fast, without waiting for the timer', async (t) => {
  const server = await startRedis({ notifyKeyspaceEvents: 'KA' });
  const url = `${server.url}/3`; // a non-zero database: the channel pattern must name it
  const keys = new RedisKeys('t1:');
  const redis = new Redis(url);
  const loader = new RouteLoader({ redis: redisAt(url), keys, reloadIntervalMs: 60_000 });
  t.after(async () => {
    await loader.stop();
    redis.disconnect();
    await server.stop();
  });
  await redis.hset(keys.route('app.example.com'), '/', 'laptop/web');
  await loader.start();
  assert.equal(loader.current.match('app.example.com', '/')?.service, 'web', 'loaded at start');
  assert.equal(loader.status.notifications, 'on');
  await waitFor('keyspace subscription', () => loader.status.subscribed);
  const changes: RouteDiff[] = [];
  loader.on('change', (_table: RouteTable, diff: RouteDiff) => changes.push(diff));

  const started = Date.now();
  await redis.hset(keys.route('app.example.com'), '/api', 'laptop/api');
  await waitFor('HSET applied', () => loader.current.match('APP.example.com:443', '/api/x')?.service === 'api', 1_000, 5);
  const applyMs = Date.now() - started;
  process.stdout.write(`# keyspace-notified HSET applied in ${applyMs} ms\n`);
  assert.deepEqual(changes.at(-1)?.added.map((r) => r.route), ['app.example.com/api']);

  await redis.hdel(keys.route('app.example.com'), '/api');
  await waitFor('HDEL applied', () => loader.current.match('app.example.com', '/api')?.service === 'web', 1_000, 5);
  await redis.del(keys.route('app.example.com'));
  await waitFor('DEL applied', () => loader.current.size === 0, 1_000, 5);
  assert.equal(loader.current.match('app.example.com', '/'), undefined);
  // Keys of another prefix are none of this loader's business.
  await redis.hset(new RedisKeys().route('other.example.com'), '/', 'c/x');
  await loader.reload();
  assert.equal(loader.current.size, 0);
  assert.equal(await configSetCalls(redis), 0, 'the loader never runs CONFIG SET');
});

test('with notifications off, edits are applied by the periodic re-read; turning them on is noticed', async (t) => {
  const server = await startRedis();
  const redis = new Redis(server.url);
  const loader = new RouteLoader({ redis: redisAt(server.url), reloadIntervalMs: 150 });
  t.after(async () => {
    await loader.stop();
    redis.disconnect();
    await server.stop();
  });
  await loader.start();
  assert.equal(loader.current.size, 0);
  assert.equal(loader.status.notifications, 'off');
  assert.equal(loader.status.subscribed, false);
  const keys = new RedisKeys();
  await redis.hset(keys.route('*.example.com'), '/', 'laptop/web');
  await waitFor('HSET applied by the timer', () => loader.current.match('x.example.com', '/'), 2_000);
  assert.equal(await configSetCalls(redis), 0, 'the loader never runs CONFIG SET');
  // The operator (here the test) turns notifications on: the loader subscribes at a later re-read.
  await redis.config('SET', 'notify-keyspace-events', 'Kgh');
  await waitFor('subscribed after the operator enabled notifications', () => loader.status.subscribed, 3_000);
  assert.equal(loader.status.notifications, 'on');
});

test('an invalid entry is logged once while it stays invalid and skipped; valid ones keep working', async (t) => {
  const server = await startRedis();
  const redis = new Redis(server.url);
  const { logger, lines } = captureLogger();
  const loader = new RouteLoader({ redis: redisAt(server.url), reloadIntervalMs: 50, logger });
  t.after(async () => {
    await loader.stop();
    redis.disconnect();
    await server.stop();
  });
  const keys = new RedisKeys();
  await redis.hset(keys.route('app.example.com'), '/', 'laptop/web', 'no-slash', 'laptop/api');
  await redis.hset(keys.route('bad_host'), '/', 'laptop/web');
  await redis.set(keys.route('str.example.com'), 'laptop/web');
  await loader.start();
  await waitFor('several re-reads', () => loader.status.loads >= 6);
  const invalidLines = (): Record<string, unknown>[] => lines.filter((l) => l['msg'] === 'invalid route entry skipped');
  assert.equal(loader.current.match('app.example.com', '/x')?.service, 'web');
  assert.equal(loader.current.size, 1);
  assert.equal(loader.invalidEntries.length, 3);
  assert.deepEqual(
    invalidLines().map((l) => [l['redis_key'], l['field'] ?? null]).sort(),
    [
      ['hopgate:route:app.example.com', 'no-slash'],
      ['hopgate:route:bad_host', null],
      ['hopgate:route:str.example.com', null],
    ],
    'each invalid entry logged exactly once over many reloads',
  );
  const bad = invalidLines().find((l) => l['field'] === 'no-slash');
  assert.equal(bad?.['level'], 'warn');
  assert.match(String(bad?.['reason']), /start with "\/"/);
  // A changed value is a new problem: logged again.
  await redis.hset(keys.route('app.example.com'), 'no-slash', 'laptop/other');
  await waitFor('new value logged', () => invalidLines().length === 4);
  // Fixed and broken again: logged again.
  await redis.hdel(keys.route('app.example.com'), 'no-slash');
  await waitFor('fixed', () => loader.invalidEntries.length === 2);
  await redis.hset(keys.route('app.example.com'), 'no-slash', 'laptop/other');
  await waitFor('broken again, logged again', () => invalidLines().length === 5);
  const before = loader.status.loads;
  await waitFor('more re-reads', () => loader.status.loads >= before + 4);
  assert.equal(invalidLines().length, 5, 'no repeat while it stays invalid');
});

test('when Redis goes away the last table stays; after it comes back edits apply again', async (t) => {
  const port = await freeTcpPort();
  let server = await redisOnPort(port);
  const url = `redis://127.0.0.1:${port}`;
  const redisA = new Redis(url);
  const { logger, lines } = captureLogger();
  const loader = new RouteLoader({ redis: redisAt(url), reloadIntervalMs: 100, logger });
  t.after(async () => {
    await loader.stop();
    await server.stop();
  });
  const keys = new RedisKeys();
  await redisA.hset(keys.route('app.example.com'), '/', 'laptop/web');
  redisA.disconnect();
  await loader.start();
  assert.equal(loader.current.size, 1);
  const table = loader.current;

  await server.stop();
  await waitFor('re-reads failing', () => loader.status.consecutiveFailures >= 3, 5_000);
  assert.equal(loader.current, table, 'the last good table is kept');
  assert.equal(loader.current.match('app.example.com', '/')?.service, 'web');
  await assert.rejects(loader.reload(), 'a forced reload reports the failure');
  assert.equal(lines.filter((l) => l['msg'] === 'route reload failed; keeping the last table' && l['level'] === 'warn').length, 1, 'warned once per outage');

  server = await redisOnPort(port); // a fresh, empty Redis on the same address
  const redisB = new Redis(url);
  t.after(() => redisB.disconnect());
  await redisB.hset(keys.route('new.example.com'), '/', 'laptop/new');
  await waitFor('reconnected and re-read', () => loader.current.match('new.example.com', '/'), 5_000);
  assert.equal(loader.status.consecutiveFailures, 0);
  assert.equal(loader.current.match('app.example.com', '/'), undefined, 'the new Redis is the truth: its table replaces the old one');
  assert.ok(lines.some((l) => l['msg'] === 'route reload recovered'));
});

test('start() rejects with a clear error when Redis is unreachable, and leaves nothing running', async () => {
  const port = await freeTcpPort();
  const loader = new RouteLoader({ redis: redisAt(`redis://127.0.0.1:${port}`), startTimeoutMs: 600 });
  const started = Date.now();
  await assert.rejects(loader.start(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_INTERNAL');
    assert.match(err.message, /could not load routes from Redis within 600 ms/);
    return true;
  });
  assert.ok(Date.now() - started < 3_000);
  await loader.stop(); // idempotent
});

test('when CONFIG is refused, the loader subscribes anyway and still re-reads on the timer', async (t) => {
  const port = await freeTcpPort();
  const server = await redisOnPort(port, ['--rename-command', 'CONFIG', '']);
  const url = `redis://127.0.0.1:${port}`;
  const redis = new Redis(url);
  const loader = new RouteLoader({ redis: redisAt(url), reloadIntervalMs: 100 });
  t.after(async () => {
    await loader.stop();
    redis.disconnect();
    await server.stop();
  });
  await loader.start();
  assert.equal(loader.status.notifications, 'unknown');
  await waitFor('subscribed', () => loader.status.subscribed);
  await redis.hset(new RedisKeys().route('app.example.com'), '/', 'laptop/web');
  await waitFor('applied by the timer', () => loader.current.match('app.example.com', '/'), 2_000);
});

test('after a reconnect to a server without keyspace notifications (a promoted replica configured apart), the loader notices, warns, and still applies edits by re-reading', async (t) => {
  const port = await freeTcpPort();
  let server = await startRedis({ port, notifyKeyspaceEvents: 'Kgh' });
  const url = `redis://127.0.0.1:${port}`;
  const { logger, lines } = captureLogger();
  const loader = new RouteLoader({ redis: redisAt(url), reloadIntervalMs: 300, logger });
  t.after(async () => {
    await loader.stop();
    await server.stop();
  });
  await loader.start();
  await waitFor('subscribed', () => loader.status.subscribed, 5_000);
  assert.equal(loader.status.notifications, 'on');
  await server.stop();
  server = await startRedis({ port, notifyKeyspaceEvents: '' });
  await waitFor('notifications re-checked after the reconnect', () => loader.status.notifications === 'off', 10_000);
  assert.ok(lines.some((l) => l['level'] === 'warn' && String(l['msg']).startsWith('keyspace notifications are off on the server reached after a reconnect')));
  const redis = new Redis(url);
  t.after(() => redis.disconnect());
  await redis.hset(new RedisKeys().route('late.example.com'), '/', 'laptop/web');
  await waitFor('edit applied by the periodic re-read', () => loader.current.match('late.example.com', '/'), 5_000);
});
