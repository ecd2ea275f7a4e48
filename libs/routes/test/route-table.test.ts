import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteTable, parseHostPattern, pathPrefixProblem, parseRouteTarget, requestHostName, type RawRouteEntry } from '../src/index.js';

function table(entries: RawRouteEntry[]): RouteTable {
  const { table: t, errors } = RouteTable.build(entries);
  assert.deepEqual(errors, [], 'fixture has no invalid entries');
  return t;
}

function target(t: RouteTable, host: string, path: string): string | undefined {
  const m = t.match(host, path);
  return m ? `${m.clientId}/${m.service}@${m.route}` : undefined;
}

test('valid entries parse into frozen matches with host pattern, prefix, target and route name', () => {
  const t = table([
    { host: 'app.example.com', field: '/', value: 'laptop/web' },
    { host: 'app.example.com', field: '/api', value: 'laptop/api' },
  ]);
  assert.equal(t.size, 2);
  const m = t.match('app.example.com', '/api/users');
  assert.deepEqual(m, { host: 'app.example.com', pathPrefix: '/api', clientId: 'laptop', service: 'api', route: 'app.example.com/api' });
  assert.ok(Object.isFrozen(m));
  assert.equal(t.match('app.example.com', '/api/users'), m, 'the same object is returned: no allocation per request');
  assert.deepEqual(t.entries().map((r) => r.route), ['app.example.com/', 'app.example.com/api']);
});

test('invalid entries are reported with key, field and reason and skipped; the rest works', () => {
  const { table: t, errors } = RouteTable.build([
    { key: 'hopgate:route:ok.example.com', host: 'ok.example.com', field: '/', value: 'c1/web' },
    { key: 'hopgate:route:ok.example.com', host: 'ok.example.com', field: 'api', value: 'c1/api' },
    { key: 'hopgate:route:ok.example.com', host: 'ok.example.com', field: '/sp ace', value: 'c1/api' },
    { key: 'hopgate:route:ok.example.com', host: 'ok.example.com', field: '/q?x', value: 'c1/api' },
    { key: 'hopgate:route:ok.example.com', host: 'ok.example.com', field: '/frag#x', value: 'c1/api' },
    { key: 'hopgate:route:ok.example.com', host: 'ok.example.com', field: `/${'a'.repeat(1024)}`, value: 'c1/api' },
    { key: 'hopgate:route:ok.example.com', host: 'ok.example.com', field: '/noslash', value: 'c1' },
    { key: 'hopgate:route:ok.example.com', host: 'ok.example.com', field: '/badid', value: '-c1/web' },
    { key: 'hopgate:route:ok.example.com', host: 'ok.example.com', field: '/badsvc', value: 'c1/we b' },
    { key: 'hopgate:route:ok.example.com', host: 'ok.example.com', field: '/twoslash', value: 'c1/web/x' },
    { key: 'hopgate:route:bad_host.example.com', host: 'bad_host.example.com', field: '/', value: 'c1/web' },
    { key: 'hopgate:route:bad_host.example.com', host: 'bad_host.example.com', field: '/x', value: 'c1/web' },
    { key: 'hopgate:route:-a.example.com', host: '-a.example.com', field: '/', value: 'c1/web' },
    { key: 'hopgate:route:a..b', host: 'a..b', field: '/', value: 'c1/web' },
    { key: 'hopgate:route:a.*.b', host: 'a.*.b', field: '/', value: 'c1/web' },
    { key: 'hopgate:route:**.b', host: '**.b', field: '/', value: 'c1/web' },
    { key: 'hopgate:route:long', host: `${'a'.repeat(64)}.com`, field: '/', value: 'c1/web' },
  ]);
  assert.equal(t.size, 1);
  assert.equal(target(t, 'ok.example.com', '/anything'), 'c1/web@ok.example.com/');
  const byField = new Map(errors.filter((e) => e.key === 'hopgate:route:ok.example.com').map((e) => [e.field, e.reason]));
  assert.equal(byField.size, 9);
  assert.match(byField.get('api') ?? '', /start with "\/"/);
  assert.match(byField.get('/sp ace') ?? '', /white space/);
  assert.match(byField.get('/q?x') ?? '', /"\?"/);
  assert.match(byField.get('/frag#x') ?? '', /"#"/);
  assert.match(byField.get(`/${'a'.repeat(1024)}`) ?? '', /longer than 1024/);
  assert.match(byField.get('/noslash') ?? '', /<client_id>\/<service>/);
  assert.match(byField.get('/badid') ?? '', /client id/);
  assert.match(byField.get('/badsvc') ?? '', /service/);
  assert.match(byField.get('/twoslash') ?? '', /service/);
  const hostErrors = errors.filter((e) => e.key !== 'hopgate:route:ok.example.com');
  assert.deepEqual(
    hostErrors.map((e) => e.key).sort(),
    ['hopgate:route:**.b', 'hopgate:route:-a.example.com', 'hopgate:route:a.*.b', 'hopgate:route:a..b', 'hopgate:route:bad_host.example.com', 'hopgate:route:long'],
    'one error per key with an invalid host, however many fields it has',
  );
  for (const e of hostErrors) assert.equal(e.field, undefined);
});

test('host validation: DNS names, wildcard, case folded, lengths', () => {
  assert.deepEqual(parseHostPattern('App.Example.COM'), { ok: true, host: { pattern: 'app.example.com', wildcardSuffix: undefined } });
  assert.deepEqual(parseHostPattern('*.Example.com'), { ok: true, host: { pattern: '*.example.com', wildcardSuffix: 'example.com' } });
  assert.equal(parseHostPattern('localhost').ok, true);
  assert.equal(parseHostPattern('1.2.3.4').ok, true);
  assert.equal(parseHostPattern(`${'a'.repeat(63)}.com`).ok, true);
  assert.equal(parseHostPattern(`${'a'.repeat(64)}.com`).ok, false);
  const long = Array.from({ length: 4 }, () => 'a'.repeat(63)).join('.'); // 255 chars
  assert.equal(parseHostPattern(long).ok, false);
  assert.equal(parseHostPattern(long.slice(0, 253)).ok, true);
  for (const bad of ['', '.', 'a.', '.a', 'a-.b', 'a.-b', 'a b', 'a:80', '*', '*.', '*.*.a', 'a.*', 'é.com', '[::1]']) {
    assert.equal(parseHostPattern(bad).ok, false, `rejects ${JSON.stringify(bad)}`);
  }
});

test('path and target validation', () => {
  assert.equal(pathPrefixProblem('/'), undefined);
  assert.equal(pathPrefixProblem('/a/b-c_d.e~f%20'), undefined);
  assert.equal(pathPrefixProblem('/' + 'x'.repeat(1023)), undefined);
  for (const bad of ['', 'x', '/a b', '/a\tb', '/a\u0000', '/a?b', '/a#', '/' + 'x'.repeat(1024)]) {
    assert.notEqual(pathPrefixProblem(bad), undefined, `rejects ${JSON.stringify(bad)}`);
  }
  assert.deepEqual(parseRouteTarget('laptop/web'), { ok: true, target: { clientId: 'laptop', service: 'web' } });
  for (const bad of ['laptop', '/web', 'laptop/', 'a/b/c', 'lap top/web', `${'a'.repeat(65)}/web`]) {
    assert.equal(parseRouteTarget(bad).ok, false, `rejects ${JSON.stringify(bad)}`);
  }
});

test('longest matching prefix wins', () => {
  const t = table([
    { host: 'h.example.com', field: '/', value: 'c/root' },
    { host: 'h.example.com', field: '/api', value: 'c/api' },
    { host: 'h.example.com', field: '/api/v2', value: 'c/v2' },
    { host: 'h.example.com', field: '/api/v2/admin/', value: 'c/admin' },
  ]);
  assert.equal(target(t, 'h.example.com', '/'), 'c/root@h.example.com/');
  assert.equal(target(t, 'h.example.com', '/other'), 'c/root@h.example.com/');
  assert.equal(target(t, 'h.example.com', '/api/v1/x'), 'c/api@h.example.com/api');
  assert.equal(target(t, 'h.example.com', '/api/v2'), 'c/v2@h.example.com/api/v2');
  assert.equal(target(t, 'h.example.com', '/api/v2/users'), 'c/v2@h.example.com/api/v2');
  assert.equal(target(t, 'h.example.com', '/api/v2/admin'), 'c/v2@h.example.com/api/v2', '"/api/v2/admin/" needs the slash');
  assert.equal(target(t, 'h.example.com', '/api/v2/admin/x'), 'c/admin@h.example.com/api/v2/admin/');
});

test('prefixes match on segment boundaries only', () => {
  const t = table([{ host: 'h.example.com', field: '/api', value: 'c/api' }]);
  for (const hit of ['/api', '/api/', '/api/x', '/api?q=1', '/api#f']) assert.ok(t.match('h.example.com', hit), hit);
  for (const miss of ['/apix', '/ap', '/', '/API', '', '*', '/x/api']) assert.equal(t.match('h.example.com', miss), undefined, miss);
  const root = table([{ host: 'h.example.com', field: '/', value: 'c/root' }]);
  for (const hit of ['/', '/x', '/x/y?z', '/?q']) assert.ok(root.match('h.example.com', hit), hit);
  assert.equal(root.match('h.example.com', '*'), undefined, 'OPTIONS * is not a path');
});

test('host matching ignores case, port and one trailing dot', () => {
  const t = table([{ host: 'App.Example.com', field: '/', value: 'c/web' }]);
  assert.equal(t.entries()[0]?.host, 'app.example.com', 'key host folded');
  for (const h of ['app.example.com', 'APP.EXAMPLE.COM', 'app.example.com:8443', 'App.Example.Com:443', 'app.example.com.', 'app.example.com.:80']) {
    assert.equal(target(t, h, '/'), 'c/web@app.example.com/', h);
  }
  for (const h of ['', ':443', 'example.com', 'xapp.example.com', '[::1]:443', 'app.example.com..']) {
    assert.equal(t.match(h, '/'), undefined, JSON.stringify(h));
  }
  assert.equal(requestHostName('a.b:1'), 'a.b');
  const plain = 'already.lower';
  assert.equal(requestHostName(plain), plain);
});

test('a wildcard matches exactly one label, and an exact key beats it', () => {
  const t = table([
    { host: '*.example.com', field: '/', value: 'c/wild' },
    { host: 'exact.example.com', field: '/api', value: 'c/exact' },
  ]);
  assert.equal(target(t, 'a.example.com', '/x'), 'c/wild@*.example.com/');
  assert.equal(target(t, 'B-2.Example.com:8443', '/'), 'c/wild@*.example.com/');
  assert.equal(t.match('example.com', '/'), undefined, 'the bare domain is not a subdomain');
  assert.equal(t.match('a.b.example.com', '/'), undefined, 'two labels are not one');
  assert.equal(t.match('.example.com', '/'), undefined);
  assert.equal(target(t, 'exact.example.com', '/api/x'), 'c/exact@exact.example.com/api');
  assert.equal(t.match('exact.example.com', '/other'), undefined, 'a host with an exact key never falls back to the wildcard');
});

test('an exact key whose entries are all invalid still shadows the wildcard', () => {
  const { table: t, errors } = RouteTable.build([
    { host: '*.example.com', field: '/', value: 'c/wild' },
    { host: 'broken.example.com', field: 'nope', value: 'c/x' },
  ]);
  assert.equal(errors.length, 1);
  assert.equal(t.match('broken.example.com', '/'), undefined);
  assert.ok(t.match('other.example.com', '/'));
});

test('keys differing only in case merge; on a conflict the lower-case key wins, whatever the order', () => {
  const entries: RawRouteEntry[] = [
    { key: 'r:App.example.com', host: 'App.example.com', field: '/', value: 'c/upper' },
    { key: 'r:App.example.com', host: 'App.example.com', field: '/only-upper', value: 'c/u2' },
    { key: 'r:app.example.com', host: 'app.example.com', field: '/', value: 'c/lower' },
  ];
  for (const order of [entries, [...entries].reverse()]) {
    const { table: t, errors } = RouteTable.build(order);
    assert.equal(target(t, 'app.example.com', '/'), 'c/lower@app.example.com/');
    assert.equal(target(t, 'app.example.com', '/only-upper'), 'c/u2@app.example.com/only-upper');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.key, 'r:App.example.com');
    assert.match(errors[0]?.reason ?? '', /duplicate/);
  }
});

test('diff lists added, removed and changed routes', () => {
  const before = table([
    { host: 'a.example.com', field: '/', value: 'c/web' },
    { host: 'a.example.com', field: '/api', value: 'c/api' },
    { host: 'b.example.com', field: '/', value: 'c/b' },
  ]);
  const after = table([
    { host: 'a.example.com', field: '/', value: 'c/web' },
    { host: 'a.example.com', field: '/api', value: 'c/api2' },
    { host: 'c.example.com', field: '/', value: 'c/c' },
    { host: '*.example.com', field: '/', value: 'c/w' },
  ]);
  const d = before.diff(after);
  assert.deepEqual(d.added.map((r) => r.route), ['*.example.com/', 'c.example.com/']);
  assert.deepEqual(d.removed.map((r) => r.route), ['b.example.com/']);
  assert.deepEqual(d.changed.map((c) => [c.before.service, c.after.service]), [['api', 'api2']]);
  const same = after.diff(table([...after.entries()].map((r) => ({ host: r.host, field: r.pathPrefix, value: `${r.clientId}/${r.service}` }))));
  assert.deepEqual(same, { added: [], removed: [], changed: [] });
  assert.deepEqual(RouteTable.EMPTY.diff(before).added.length, 3);
});

test('match on a table of 10,000 hosts with 8 prefixes each finds every route (its speed is printed; the bench keeps speed goals)', () => {
  const entries: RawRouteEntry[] = [];
  for (let h = 0; h < 10_000; h++) {
    for (let p = 0; p < 8; p++) entries.push({ host: `h${h}.example.com`, field: p === 0 ? '/' : `/p${p}/x`, value: `c${h}/s${p}` });
  }
  entries.push({ host: '*.wild.example.com', field: '/', value: 'w/w' });
  const t = table(entries);
  assert.equal(t.size, 80_001);
  const iterations = 200_000;
  const started = process.hrtime.bigint();
  let hits = 0;
  for (let i = 0; i < iterations; i++) {
    if (t.match(`h${i % 10_000}.example.com`, '/p7/x/y?z=1')) hits++;
  }
  const nsPerMatch = Number(process.hrtime.bigint() - started) / iterations;
  assert.equal(hits, iterations);
  assert.equal(target(t, 'ab.wild.example.com:443', '/'), 'w/w@*.wild.example.com/');
  process.stdout.write(`# route match: ${nsPerMatch.toFixed(0)} ns/op over ${t.size} routes\n`);
});
