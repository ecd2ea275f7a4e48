import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { startRedis, waitFor, captureLogger } from '@hopgate/testkit';
import { RouteLoader, MAX_FALLBACK_PAGE_BODY_BYTES, type RouteFallback } from '../src/index.js';
import { redisAt } from './helpers.js';

function pageBody(f: RouteFallback | undefined): string | undefined {
  return f?.kind === 'page' ? f.page.body.toString() : undefined;
}

test('fallback and page edits reach the loader through keyspace events, without waiting for the timer', async (t) => {
  const server = await startRedis({ notifyKeyspaceEvents: 'Kgh' });
  const url = `${server.url}/2`;
  const keys = new RedisKeys('fb1:');
  const redis = new Redis(url);
  const { logger, lines } = captureLogger();
  const loader = new RouteLoader({ redis: redisAt(url), keys, reloadIntervalMs: 60_000, logger, loadFallbacks: true });
  t.after(async () => {
    await loader.stop();
    redis.disconnect();
    await server.stop();
  });
  await redis.hset(keys.route('app.example.com'), '/', 'laptop/web', '/api', 'laptop/api');
  await redis.hset(keys.page('maintenance'), 'status', '503', 'content_type', 'text/html', 'body', '<p>one</p>');
  await redis.hset(keys.fallback('app.example.com'), '/', 'page:maintenance');
  await loader.start();
  const root = (): RouteFallback | undefined => loader.fallbacks.forRoute(loader.current.match('app.example.com', '/')!);
  const api = (): RouteFallback | undefined => loader.fallbacks.forRoute(loader.current.match('app.example.com', '/api')!);
  assert.equal(pageBody(root()), '<p>one</p>', 'loaded at start');
  assert.equal(api(), undefined);
  await waitFor('keyspace subscription', () => loader.status.subscribed);

  await redis.hset(keys.fallback('app.example.com'), '/api', 'desktop/api');
  await waitFor('fallback HSET applied', () => api()?.label === 'desktop/api', 1_000, 5);
  await redis.hset(keys.page('maintenance'), 'body', '<p>two</p>');
  await waitFor('page body edit applied', () => pageBody(root()) === '<p>two</p>', 1_000, 5);
  await redis.del(keys.page('maintenance'));
  await waitFor('page deleted: its fallback is gone', () => root() === undefined, 1_000, 5);
  await redis.hdel(keys.fallback('app.example.com'), '/api');
  await waitFor('fallback HDEL applied', () => api() === undefined, 1_000, 5);
  assert.ok(lines.some((l) => l['msg'] === 'route fallbacks changed' && (l['added'] as string[]).includes('app.example.com/api -> desktop/api')));
  assert.ok(
    lines.some((l) => l['msg'] === 'invalid fallback entry skipped' && /page "maintenance" is not usable: key "fb1:page:maintenance" does not exist/.test(String(l['reason']))),
    'the fallback whose page went away is reported',
  );
});

test('malformed fallback entries and pages are skipped and logged once; an oversized body is never read', async (t) => {
  const server = await startRedis();
  const redis = new Redis(server.url);
  const keys = new RedisKeys();
  const { logger, lines } = captureLogger();
  const loader = new RouteLoader({ redis: redisAt(server.url), reloadIntervalMs: 60_000, logger, loadFallbacks: true });
  t.after(async () => {
    await loader.stop();
    redis.disconnect();
    await server.stop();
  });
  await redis.hset(keys.route('app.example.com'), '/', 'laptop/web', '/a', 'laptop/a', '/b', 'laptop/b', '/c', 'laptop/c');
  await redis.hset(keys.fallback('app.example.com'), '/', 'page:ok', '/a', 'page:huge', '/b', 'page:str', '/c', 'nobody', 'no-slash', 'desktop/web');
  await redis.set(keys.fallback('str.example.com'), 'desktop/web');
  await redis.hset(keys.page('ok'), 'status', '200', 'content_type', 'text/plain', 'body', 'fine', 'retry_after', '5');
  await redis.hset(keys.page('huge'), 'status', '503', 'content_type', 'text/plain', 'body', Buffer.alloc(MAX_FALLBACK_PAGE_BODY_BYTES + 1, 0x61));
  await redis.set(keys.page('str'), 'not a hash');
  await loader.start();
  const hmgetCalls = async (): Promise<number> => Number(/cmdstat_hmget:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
  const before = await hmgetCalls();
  const RELOADS = 5;
  for (let i = 0; i < RELOADS; i++) await loader.reload();
  // Per read: HMGET of the fields of each of the three pages, then of the body of "ok" alone
  // ("huge" is over the limit by its HSTRLEN, "str" is not a hash).
  assert.equal((await hmgetCalls()) - before, RELOADS * 4, 'the oversized body is never read');
  assert.equal(loader.fallbacks.size, 1);
  assert.equal(pageBody(loader.fallbacks.forRoute(loader.current.match('app.example.com', '/')!)), 'fine');
  assert.equal(loader.current.size, 4, 'routes are unaffected by bad fallbacks');
  const invalid = lines.filter((l) => l['msg'] === 'invalid fallback entry skipped');
  assert.deepEqual(
    invalid.map((l) => `${String(l['redis_key'])} ${String(l['field'] ?? '-')}`).sort(),
    [
      'hopgate:fallback:app.example.com /a',
      'hopgate:fallback:app.example.com /b',
      'hopgate:fallback:app.example.com /c',
      'hopgate:fallback:app.example.com no-slash',
      'hopgate:fallback:str.example.com -',
    ],
    'each invalid entry logged exactly once over many reloads',
  );
  const reasonOf = (field: string): string => String(invalid.find((l) => l['field'] === field)?.['reason']);
  assert.match(reasonOf('/a'), /body of 65537 bytes is over the 65536-byte limit/);
  assert.match(reasonOf('/b'), /is not a hash/);
  assert.match(reasonOf('/c'), /value must be/);
  assert.equal(invalid[0]?.['level'], 'warn');
});

test('without loadFallbacks (the cert-manager) nothing of the fallback tree is read', async (t) => {
  const server = await startRedis();
  const redis = new Redis(server.url);
  const keys = new RedisKeys();
  const loader = new RouteLoader({ redis: redisAt(server.url), reloadIntervalMs: 60_000 });
  t.after(async () => {
    await loader.stop();
    redis.disconnect();
    await server.stop();
  });
  await redis.hset(keys.route('app.example.com'), '/', 'laptop/web');
  await redis.hset(keys.fallback('app.example.com'), '/', 'desktop/web');
  await loader.start();
  assert.equal(loader.current.size, 1);
  assert.equal(loader.fallbacks.size, 0);
  const hgetall = Number(/cmdstat_hgetall:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1]);
  assert.equal(hgetall, loader.status.loads, 'one HGETALL per read: the route key; the fallback key is never read');
});

test('an ACL that refuses the fallback keys (written before fallbacks existed) costs the routes nothing', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-fallback-acl-'));
  const aclFile = path.join(dir, 'users.acl');
  fs.writeFileSync(aclFile, [
    'user default on nopass ~* &* +@all',
    'user old-ingress on >secret resetkeys resetchannels %R~hopgate:route:* &__keyspace@0__:hopgate:route:* -@all +hgetall +hmget +get +scan +psubscribe +punsubscribe +ping +select +info +client|setname +config|get',
    '',
  ].join('\n'));
  const server = await startRedis({ aclFile, notifyKeyspaceEvents: 'Kgh' });
  const redis = new Redis(server.url);
  const keys = new RedisKeys();
  const { logger, lines } = captureLogger();
  const url = new URL(server.url);
  url.username = 'old-ingress';
  url.password = 'secret';
  const loader = new RouteLoader({ redis: redisAt(url.toString()), reloadIntervalMs: 60_000, logger, loadFallbacks: true });
  t.after(async () => {
    await loader.stop();
    redis.disconnect();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await redis.hset(keys.route('app.example.com'), '/', 'laptop/web');
  await redis.hset(keys.fallback('app.example.com'), '/', 'desktop/web');
  await loader.start();
  assert.equal(loader.current.size, 1, 'routes load');
  assert.equal(loader.fallbacks.size, 0);
  await waitFor('route subscription kept', () => loader.status.subscribed);
  await redis.hset(keys.route('app.example.com'), '/api', 'laptop/api');
  await waitFor('route edits still arrive as events', () => loader.current.size === 2, 1_000, 5);
  assert.equal(lines.filter((l) => l['msg'] === 'route fallbacks cannot be read (refused by Redis); routes load without them, the last fallbacks stay').length, 1, 'logged once');
  await waitFor('fallback channel refusal logged', () => lines.some((l) => l['msg'] === 'keyspace subscription for fallback keys refused; fallback edits apply at the periodic re-read'));
});
