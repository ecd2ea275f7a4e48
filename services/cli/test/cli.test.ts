import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { readRouteEntries, RouteTable } from '@hopgate/routes';
import { ClientStore, SessionStore, InstanceStore, HubRegistry, hashToken } from '@hopgate/sessions';
import { CertStore } from '@hopgate/certs';
import { startRedis, freeTcpPort, createDevCa, type RunningServer } from '@hopgate/testkit';
import { loadCliConfig } from '@hopgate/config';
import { runCli } from '../src/index.js';

/** The built bin (dist/main.js), as operators run it; this test file runs from dist-test/test/. */
const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

let server: RunningServer;
let redis: Redis;
const keys = new RedisKeys();

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a child process against the test Redis. */
function hopgate(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { env: { PATH: process.env['PATH'] ?? '', HOPGATE_REDIS_URL: server.url, ...env }, timeout: 15_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

test('help, and usage errors exit 2 with a message, without needing Redis', async () => {
  const help = await hopgate(['help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /route set <host> <path> <client>\/<service>/);
  assert.equal((await hopgate(['--help'])).code, 0);
  const offline = { HOPGATE_REDIS_URL: 'redis://127.0.0.1:1' };
  for (const args of [[], ['bogus'], ['client'], ['client', 'add'], ['client', 'add', 'a', 'b'], ['route', 'set', 'h', '/'], ['--nope'], ['client', 'ls', '--replace'], ['client', 'add', 'bad id']]) {
    const r = await hopgate(args, offline);
    assert.equal(r.code, 2, `${JSON.stringify(args)} -> ${r.stderr}`);
    assert.match(r.stderr, /^hopgate: .+\nRun "hopgate help" for usage\.\n$/);
    assert.equal(r.stdout, '');
  }
});

test('Redis unreachable: exit 1 with a clear message', async () => {
  const port = await freeTcpPort();
  const r = await hopgate(['client', 'ls'], { HOPGATE_REDIS_URL: `redis://user:secret@127.0.0.1:${port}` });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot connect to Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:\d+/);
  assert.doesNotMatch(r.stderr, /secret/);
});

test('client add prints a token once, stores only its hash; the token verifies', async () => {
  const added = await hopgate(['client', 'add', 'laptop']);
  assert.equal(added.code, 0, added.stderr);
  const token = added.stdout.trim();
  assert.match(added.stdout, /^[A-Za-z0-9_-]{43}\n$/, 'stdout is the token alone');
  assert.match(added.stderr, /shown only this once/);
  assert.deepEqual(await redis.hgetall(keys.client('laptop')), { token_sha256: hashToken(token) });
  const clients = new ClientStore(redis);
  assert.equal(await clients.verify('laptop', token), 'ok');
  assert.equal(await clients.verify('laptop', 'wrong'), 'bad_token');

  const again = await hopgate(['client', 'add', 'laptop']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists/);
  assert.equal(await clients.verify('laptop', token), 'ok', 'a refused add changes nothing');

  const rotated = await hopgate(['client', 'add', 'laptop', '--replace']);
  assert.equal(rotated.code, 0);
  assert.equal(await clients.verify('laptop', rotated.stdout.trim()), 'ok');
  assert.equal(await clients.verify('laptop', token), 'bad_token');

  assert.equal((await hopgate(['client', 'add', 'desktop'])).code, 0);
  const ls = await hopgate(['client', 'ls']);
  assert.equal(ls.code, 0);
  assert.equal(ls.stdout, 'CLIENT\ndesktop\nlaptop\n');

  const rm = await hopgate(['client', 'rm', 'desktop']);
  assert.equal(rm.code, 0);
  assert.equal(await redis.exists(keys.client('desktop')), 0);
  const rmAgain = await hopgate(['client', 'rm', 'desktop']);
  assert.equal(rmAgain.code, 1);
  assert.match(rmAgain.stderr, /no client desktop/);
});

test('route set / ls / rm write the documented layout, readable by the route table', async () => {
  assert.equal((await hopgate(['route', 'set', 'App.Example.com', '/', 'laptop/web'])).code, 0);
  assert.equal((await hopgate(['route', 'set', 'app.example.com', '/api', 'laptop/api'])).code, 0);
  const wild = await hopgate(['route', 'set', '*.example.com', '/', 'ghost/web']);
  assert.equal(wild.code, 0);
  assert.match(wild.stderr, /warning: client ghost is not registered/);
  assert.deepEqual(await redis.hgetall('hopgate:route:app.example.com'), { '/': 'laptop/web', '/api': 'laptop/api' });
  assert.deepEqual(await redis.hgetall('hopgate:route:*.example.com'), { '/': 'ghost/web' });

  const updated = await hopgate(['route', 'set', 'app.example.com', '/api', 'laptop/api2']);
  assert.match(updated.stderr, /updated route app\.example\.com\/api -> laptop\/api2/);

  const { table, errors } = RouteTable.build((await readRouteEntries(redis, keys)).entries);
  assert.deepEqual(errors, []);
  assert.equal(table.match('app.example.com', '/api/x')?.service, 'api2');
  assert.equal(table.match('x.example.com', '/')?.clientId, 'ghost');

  const ls = await hopgate(['route', 'ls']);
  assert.equal(ls.code, 0);
  assert.deepEqual(ls.stdout.trim().split('\n').map((l) => l.split(/\s+/)), [
    ['HOST', 'PATH', 'TARGET', 'FALLBACK'],
    ['*.example.com', '/', 'ghost/web', '-'],
    ['app.example.com', '/', 'laptop/web', '-'],
    ['app.example.com', '/api', 'laptop/api2', '-'],
  ]);
  const lsHost = await hopgate(['route', 'ls', 'APP.example.com']);
  assert.equal(lsHost.stdout.trim().split('\n').length, 3, 'header + 2 routes of that host');

  assert.equal((await hopgate(['route', 'rm', 'app.example.com', '/api'])).code, 0);
  assert.deepEqual(await redis.hkeys('hopgate:route:app.example.com'), ['/']);
  const missing = await hopgate(['route', 'rm', 'app.example.com', '/api']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no route app\.example\.com\/api/);
  assert.equal((await hopgate(['route', 'rm', '*.example.com'])).code, 0);
  assert.equal(await redis.exists('hopgate:route:*.example.com'), 0);
  assert.equal((await hopgate(['route', 'rm', 'app.example.com'])).code, 0);
  assert.equal((await hopgate(['route', 'rm', 'app.example.com'])).code, 1);
});

test('an invalid route is refused with exit 2 and a reason, and nothing is written', async () => {
  const cases: [string[], RegExp][] = [
    [['route', 'set', 'bad_host.example.com', '/', 'c/web'], /invalid host .*character "_"/],
    [['route', 'set', 'a.*.example.com', '/', 'c/web'], /invalid host/],
    [['route', 'set', 'ok.example.com', 'api', 'c/web'], /must start with "\/"/],
    [['route', 'set', 'ok.example.com', '/a?b', 'c/web'], /"\?"/],
    [['route', 'set', 'ok.example.com', '/', 'c'], /<client_id>\/<service>/],
    [['route', 'set', 'ok.example.com', '/', 'c/we b'], /service/],
  ];
  for (const [args, reason] of cases) {
    const r = await hopgate(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, reason);
  }
  assert.deepEqual(await redis.keys('hopgate:route:*'), []);
});

test('route ls reports entries written badly by hand; route rm removes them', async () => {
  await redis.hset('hopgate:route:ok.example.com', '/', 'laptop/web', 'nope', 'laptop/web');
  await redis.hset('hopgate:route:bad_host', '/', 'laptop/web');
  const ls = await hopgate(['route', 'ls']);
  assert.equal(ls.code, 0);
  assert.match(ls.stdout, /ok\.example\.com\s+\/\s+laptop\/web/);
  assert.match(ls.stderr, /invalid entry skipped: key "hopgate:route:ok\.example\.com" field "nope" value "laptop\/web": path prefix must start with "\/"/);
  assert.match(ls.stderr, /invalid entry skipped: key "hopgate:route:bad_host"/);
  assert.equal((await hopgate(['route', 'rm', 'ok.example.com', 'nope'])).code, 0);
  assert.equal((await hopgate(['route', 'rm', 'bad_host'])).code, 0);
  assert.equal((await hopgate(['route', 'ls'])).stderr, '');
  await redis.del('hopgate:route:ok.example.com');
});

test('route fallback set / page / rm write the documented layout; route ls shows each route fallback', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-cli-fallback-'));
  const html = path.join(dir, 'maintenance.html');
  fs.writeFileSync(html, '<h1>back soon</h1>\n');
  assert.equal((await hopgate(['route', 'set', 'fb.example.com', '/', 'laptop/web'])).code, 0);
  assert.equal((await hopgate(['route', 'set', 'fb.example.com', '/api', 'laptop/api'])).code, 0);
  const page = await hopgate(['route', 'fallback', 'page', 'FB.example.com', '/', 'maintenance', '--body-file', html, '--retry-after', '120']);
  assert.equal(page.code, 0, page.stderr);
  assert.match(page.stderr, /wrote page maintenance: status 503, text\/html; charset=utf-8, 19 bytes/);
  assert.match(page.stderr, /added fallback fb\.example\.com\/ -> page:maintenance/);
  assert.deepEqual(await redis.hgetall('hopgate:page:maintenance'), { status: '503', content_type: 'text/html; charset=utf-8', body: '<h1>back soon</h1>\n', retry_after: '120' });
  const set = await hopgate(['route', 'fallback', 'set', 'fb.example.com', '/api', 'desktop/api']);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stderr, /warning: client desktop is not registered/);
  assert.deepEqual(await redis.hgetall('hopgate:fallback:fb.example.com'), { '/': 'page:maintenance', '/api': 'desktop/api' });
  // Rewriting the page without --retry-after drops the old field: the page is replaced whole.
  const rewrite = await hopgate(['route', 'fallback', 'page', 'fb.example.com', '/', 'maintenance', '--body-file', html, '--status', '200', '--content-type', 'text/plain']);
  assert.equal(rewrite.code, 0, rewrite.stderr);
  assert.match(rewrite.stderr, /updated fallback/);
  assert.deepEqual(await redis.hgetall('hopgate:page:maintenance'), { status: '200', content_type: 'text/plain', body: '<h1>back soon</h1>\n' });
  // Pointing a route at an existing page needs no options.
  assert.equal((await hopgate(['route', 'set', 'fb.example.com', '/docs', 'laptop/docs'])).code, 0);
  assert.equal((await hopgate(['route', 'fallback', 'page', 'fb.example.com', '/docs', 'maintenance'])).code, 0);
  const noPage = await hopgate(['route', 'fallback', 'page', 'fb.example.com', '/docs', 'nonexistent']);
  assert.equal(noPage.code, 1);
  assert.match(noPage.stderr, /no page nonexistent/);
  const orphan = await hopgate(['route', 'fallback', 'set', 'fb.example.com', '/nowhere', 'desktop/web']);
  assert.equal(orphan.code, 0);
  assert.match(orphan.stderr, /warning: no route fb\.example\.com\/nowhere yet/);

  const ls = await hopgate(['route', 'ls', 'fb.example.com']);
  assert.equal(ls.code, 0);
  assert.deepEqual(ls.stdout.trim().split('\n').map((l) => l.split(/\s+/)), [
    ['HOST', 'PATH', 'TARGET', 'FALLBACK'],
    ['fb.example.com', '/', 'laptop/web', 'page:maintenance'],
    ['fb.example.com', '/api', 'laptop/api', 'desktop/api'],
    ['fb.example.com', '/docs', 'laptop/docs', 'page:maintenance'],
  ]);
  assert.match(ls.stderr, /invalid entry skipped: key "hopgate:fallback:fb\.example\.com" field "\/nowhere" value "desktop\/web": no route fb\.example\.com\/nowhere/);
  // Written badly by hand: reported on stderr.
  await redis.hset('hopgate:fallback:fb.example.com', '/docs', 'page:bad name');
  assert.match((await hopgate(['route', 'ls'])).stderr, /field "\/docs" value "page:bad name": page name "bad name" must match/);

  assert.equal((await hopgate(['route', 'fallback', 'rm', 'fb.example.com', '/docs'])).code, 0);
  assert.equal((await hopgate(['route', 'fallback', 'rm', 'fb.example.com', '/docs'])).code, 1);
  assert.equal((await hopgate(['route', 'fallback', 'rm', 'fb.example.com'])).code, 0);
  assert.equal(await redis.exists('hopgate:fallback:fb.example.com'), 0);
  assert.equal(await redis.exists('hopgate:page:maintenance'), 1, 'pages stay: other routes may use them');
  await redis.del('hopgate:page:maintenance', 'hopgate:route:fb.example.com');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an invalid fallback or page is refused with exit 2 and a reason, and nothing is written', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-cli-fallback-'));
  const html = path.join(dir, 'page.html');
  fs.writeFileSync(html, 'x');
  const huge = path.join(dir, 'huge.html');
  fs.writeFileSync(huge, Buffer.alloc(64 * 1024 + 1));
  const cases: [string[], RegExp][] = [
    [['route', 'fallback', 'set', 'ok.example.com', '/', 'nobody'], /"<client_id>\/<service>" or "page:<name>"/],
    [['route', 'fallback', 'set', 'bad_host', '/', 'a/b'], /invalid host/],
    [['route', 'fallback', 'set', 'ok.example.com', 'x', 'a/b'], /must start with "\/"/],
    [['route', 'fallback', 'page', 'ok.example.com', '/', 'bad name'], /page name/],
    [['route', 'fallback', 'page', 'ok.example.com', '/', 'm', '--status', '404', '--body-file', html], /2xx or 5xx/],
    [['route', 'fallback', 'page', 'ok.example.com', '/', 'm', '--body-file', huge], /over the 65536-byte limit/],
    [['route', 'fallback', 'page', 'ok.example.com', '/', 'm', '--body-file', path.join(dir, 'missing.html')], /--body-file/],
    [['route', 'fallback', 'page', 'ok.example.com', '/', 'm', '--status', '503'], /go with --body-file/],
    [['route', 'set', 'ok.example.com', '/', 'a/b', '--status', '503'], /only go with "route fallback page"/],
    [['route', 'fallback', 'bogus'], /unknown command/],
    [['route', 'fallback'], /usage/],
  ];
  for (const [args, reason] of cases) {
    const r = await hopgate(args, { HOPGATE_REDIS_URL: 'redis://127.0.0.1:1' });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, reason);
  }
  assert.deepEqual(await redis.keys('hopgate:fallback:*'), []);
  assert.deepEqual(await redis.keys('hopgate:page:*'), []);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('session ls and hub ls show what the hubs wrote', async () => {
  const sessions = new SessionStore(redis);
  const epoch = await sessions.nextEpoch();
  await sessions.claim('laptop', { hubId: 'hub-1', epoch, remote: '198.51.100.4:50000', connectedAt: Date.UTC(2025, 0, 2, 3, 4, 5) }, 30_000);
  await new HubRegistry(redis).register('hub-1', { startedAt: Date.UTC(2025, 0, 1), dtlsListen: '0.0.0.0:443' }, 30_000);
  const ls = await hopgate(['session', 'ls']);
  assert.equal(ls.code, 0);
  const lines = ls.stdout.trim().split('\n').map((l) => l.split(/\s+/));
  assert.deepEqual(lines[0], ['CLIENT', 'HUB', 'EPOCH', 'CONNECTED_AT', 'REMOTE', 'TTL', 'INSTANCE']);
  assert.deepEqual(lines[1]?.slice(0, 5), ['laptop', 'hub-1', String(epoch), '2025-01-02T03:04:05.000Z', '198.51.100.4:50000']);
  assert.equal(lines[1]?.[6], '-', 'a session recorded without instances');
  // Two replicas of one client: one line each, the client-wide record not listed again.
  const instances = new InstanceStore(redis);
  const e1 = await sessions.nextEpoch();
  const e2 = await sessions.nextEpoch();
  await instances.claim('nas', 'nas-a', { hubId: 'hub-1', epoch: e1, remote: '198.51.100.5:1', connectedAt: Date.UTC(2025, 0, 3) }, 30_000);
  await instances.claim('nas', 'nas-b', { hubId: 'hub-2', epoch: e2, remote: '198.51.100.6:2', connectedAt: Date.UTC(2025, 0, 4) }, 30_000);
  const replicas = (await hopgate(['session', 'ls'])).stdout.trim().split('\n').map((l) => l.split(/\s+/)).filter((l) => l[0] === 'nas');
  assert.deepEqual(replicas.map((l) => [l[1], l[2], l[6]]), [['hub-1', String(e1), 'nas-a'], ['hub-2', String(e2), 'nas-b']]);
  const hubs = await hopgate(['hub', 'ls']);
  assert.match(hubs.stdout, /hub-1\s+0\.0\.0\.0:443\s+2025-01-01T00:00:00\.000Z/);
});

test('HOPGATE_REDIS_PREFIX moves every key', async () => {
  const r = await hopgate(['route', 'set', 'p.example.com', '/', 'c/web'], { HOPGATE_REDIS_PREFIX: 'alt:' });
  assert.equal(r.code, 0);
  assert.deepEqual(await redis.hgetall('alt:route:p.example.com'), { '/': 'c/web' });
  assert.equal((await hopgate(['route', 'ls'])).stdout.includes('p.example.com'), false);
  assert.match((await hopgate(['route', 'ls'], { HOPGATE_REDIS_PREFIX: 'alt:' })).stdout, /p\.example\.com/);
});

test('cert ls: status, dates, issuer, last error; malformed records listed with their reason', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-cli-cert-'));
  const ca = createDevCa(dir, 'CLI Test CA');
  const leaf = ca.issue('app', ['app.example.com']);
  const certs = new CertStore(redis);
  const stored = await certs.putIssued('app.example.com', leaf.certPem, leaf.keyPem);
  await certs.setStatus('down.example.com', 'failed', 'ACME server https://acme.test/dir unreachable: ECONNREFUSED');
  await redis.hset(keys.cert('odd.example.com'), 'status', 'bogus');
  const ls = await hopgate(['cert', 'ls']);
  assert.equal(ls.code, 0, ls.stderr);
  const lines = ls.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^NAME\s+STATUS\s+NOT_AFTER\s+RENEW_AT\s+ISSUER\s+LAST_ERROR$/);
  assert.equal(lines.length, 4);
  const notAfter = new Date(stored.notAfter!).toISOString();
  const renewAt = new Date(stored.renewAt!).toISOString();
  assert.match(lines[1]!, new RegExp(`^app\\.example\\.com\\s+valid\\s+${notAfter}\\s+${renewAt}\\s+CN=CLI Test CA\\s+-$`));
  assert.match(lines[2]!, /^down\.example\.com\s+failed\s+-\s+-\s+-\s+ACME server https:\/\/acme\.test\/dir unreachable: ECONNREFUSED$/);
  assert.match(lines[3]!, /^odd\.example\.com\s+malformed\s+-\s+-\s+-\s+unknown status "bogus"/);
  assert.doesNotMatch(ls.stdout, /PRIVATE KEY/);
});

test('cert renew makes renewal due now (renew_at in the past); cert rm deletes; bad names exit 2, missing ones 1', async () => {
  const renew = await hopgate(['cert', 'renew', 'App.Example.com']);
  assert.equal(renew.code, 0, renew.stderr);
  assert.match(renew.stderr, /renewal of app\.example\.com is due now/);
  assert.equal(await redis.hget(keys.cert('app.example.com'), 'renew_at'), '1970-01-01T00:00:00.000Z');
  assert.equal(await redis.hget(keys.cert('app.example.com'), 'status'), 'valid', 'the certificate stays served meanwhile');
  const missing = await hopgate(['cert', 'renew', 'nothing.example.com']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no certificate record for nothing\.example\.com/);
  const bad = await hopgate(['cert', 'renew', 'bad_name']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid certificate name "bad_name"/);
  assert.equal((await hopgate(['cert', 'renew'])).code, 2);
  for (const name of ['app.example.com', 'down.example.com', 'odd.example.com']) {
    const rm = await hopgate(['cert', 'rm', name]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(await redis.exists(keys.cert(name)), 0);
  }
  assert.equal((await hopgate(['cert', 'rm', 'app.example.com'])).code, 1);
  assert.match((await hopgate(['cert', 'ls'])).stdout, /^NAME\s+STATUS\s+NOT_AFTER\s+RENEW_AT\s+ISSUER\s+LAST_ERROR\n$/);
});

test('empty listings print their header alone; a set HOPGATE_REDIS_URL adds no line to stderr', async () => {
  const empty = { HOPGATE_REDIS_PREFIX: 'empty-listings:' };
  const headers: [string[], RegExp][] = [
    [['client', 'ls'], /^CLIENT\n$/],
    [['route', 'ls'], /^HOST\s+PATH\s+TARGET\s+FALLBACK\n$/],
    [['session', 'ls'], /^CLIENT\s+HUB\s+EPOCH\s+CONNECTED_AT\s+REMOTE\s+TTL\s+INSTANCE\n$/],
    [['hub', 'ls'], /^HUB\s+DTLS_LISTEN\s+STARTED_AT\s+TTL\n$/],
    [['cert', 'ls'], /^NAME\s+STATUS\s+NOT_AFTER\s+RENEW_AT\s+ISSUER\s+LAST_ERROR\n$/],
  ];
  for (const [args, header] of headers) {
    const r = await hopgate(args, empty);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, header, args.join(' '));
    assert.equal(r.stderr, '', `${args.join(' ')}: nothing on stderr when HOPGATE_REDIS_URL is set`);
  }
});

test('the CLI names the Redis it falls back to when HOPGATE_REDIS_URL is not set (one stderr line)', async () => {
  const fallback = loadCliConfig({});
  assert.equal(fallback.redisUrlIsDefault, true);
  assert.equal(fallback.redisUrl, 'redis://127.0.0.1:6379');
  assert.equal(loadCliConfig({ HOPGATE_REDIS_URL: server.url }).redisUrlIsDefault, false);
  // The machine's own 6379 is not the test's: the defaulted config is pointed at the test Redis.
  let stdout = '';
  let stderr = '';
  const code = await runCli(['route', 'ls'], {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    config: () => ({ ...loadCliConfig({ HOPGATE_REDIS_PREFIX: 'empty-listings:' }), redisUrl: server.url }),
  });
  assert.equal(code, 0, stderr);
  assert.equal(stderr, `hopgate: using Redis at ${server.url} (the default; set HOPGATE_REDIS_URL to choose another)\n`);
  assert.match(stdout, /^HOST\s+PATH\s+TARGET\s+FALLBACK\n$/);
});
