import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FallbackTable,
  RouteTable,
  parseFallbackPage,
  parseFallbackValue,
  MAX_FALLBACK_PAGE_BODY_BYTES,
  DEFAULT_FALLBACK_RETRY_AFTER_S,
  type RawPageRead,
  type RawFallbackEntry,
} from '../src/index.js';

const routes = RouteTable.build([
  { host: 'app.example.com', field: '/', value: 'laptop/web' },
  { host: 'app.example.com', field: '/api', value: 'laptop/api' },
  { host: '*.example.com', field: '/', value: 'laptop/web' },
]).table;

function page(status: string, contentType: string, body: string, retryAfter?: string): RawPageRead {
  return { ok: true, raw: { status, contentType, body: Buffer.from(body), ...(retryAfter === undefined ? {} : { retryAfter }) } };
}

const pages = new Map<string, RawPageRead>([['maintenance', page('503', 'text/html; charset=utf-8', '<h1>back soon</h1>')]]);

test('fallback values: <client>/<service> or page:<name>; anything else is refused with a reason', () => {
  assert.deepEqual(parseFallbackValue('desktop/web'), { ok: true, ref: { kind: 'target', clientId: 'desktop', service: 'web' } });
  assert.deepEqual(parseFallbackValue('page:maintenance'), { ok: true, ref: { kind: 'page', name: 'maintenance' } });
  for (const bad of ['desktop', 'a/b/c', 'page:', 'page:bad name', '/web', 'desktop/', 'Page:x', '']) {
    const r = parseFallbackValue(bad);
    assert.equal(r.ok, false, bad);
  }
});

test('pages: 2xx or 5xx, a visible content type, a body within the limit, Retry-After seconds', () => {
  const ok = parseFallbackPage('m', { status: '503', contentType: 'text/html', body: Buffer.from('x') });
  assert.ok(ok.ok);
  assert.equal(ok.page.retryAfterS, DEFAULT_FALLBACK_RETRY_AFTER_S);
  const custom = parseFallbackPage('m', { status: '200', contentType: 'text/plain', body: Buffer.alloc(0), retryAfter: '120' });
  assert.ok(custom.ok);
  assert.equal(custom.page.retryAfterS, 120);
  assert.ok(parseFallbackPage('m', { status: '503', contentType: 't/x', body: Buffer.alloc(MAX_FALLBACK_PAGE_BODY_BYTES) }).ok, 'exactly the limit is fine');
  const cases: [Parameters<typeof parseFallbackPage>[1], RegExp][] = [
    [{ contentType: 'text/html', body: Buffer.from('x') }, /no "status"/],
    [{ status: '404', contentType: 'text/html', body: Buffer.from('x') }, /2xx or 5xx/],
    [{ status: '204', contentType: 'text/html', body: Buffer.from('x') }, /cannot carry/],
    [{ status: '5003', contentType: 'text/html', body: Buffer.from('x') }, /three-digit/],
    [{ status: '503', body: Buffer.from('x') }, /no "content_type"/],
    [{ status: '503', contentType: 'text/html\r\nx-evil: 1', body: Buffer.from('x') }, /visible ASCII/],
    [{ status: '503', contentType: ' text/html', body: Buffer.from('x') }, /visible ASCII/],
    [{ status: '503', contentType: 'text/html' }, /no "body"/],
    [{ status: '503', contentType: 'text/html', body: Buffer.alloc(MAX_FALLBACK_PAGE_BODY_BYTES + 1) }, /over the 65536-byte limit/],
    [{ status: '503', contentType: 'text/html', body: Buffer.from('x'), retryAfter: '-1' }, /retry_after/],
    [{ status: '503', contentType: 'text/html', body: Buffer.from('x'), retryAfter: '86401' }, /retry_after/],
  ];
  for (const [raw, reason] of cases) {
    const r = parseFallbackPage('m', raw);
    assert.ok(!r.ok, JSON.stringify(raw).slice(0, 100));
    assert.match(r.reason, reason);
  }
  assert.match((parseFallbackPage('bad name', { status: '503', contentType: 't/x', body: Buffer.from('') }) as { reason: string }).reason, /page name/);
});

test('a fallback stands in for exactly the route of the same host key and prefix', () => {
  const entries: RawFallbackEntry[] = [
    { host: 'app.example.com', field: '/', value: 'page:maintenance' },
    { host: 'app.example.com', field: '/api', value: 'desktop/api' },
    { host: '*.example.com', field: '/', value: 'page:maintenance' },
  ];
  const { table, errors } = FallbackTable.build(routes, entries, pages);
  assert.deepEqual(errors, []);
  assert.equal(table.size, 3);
  const root = table.forRoute(routes.match('app.example.com', '/x')!);
  assert.equal(root?.kind, 'page');
  assert.equal(root?.label, 'page:maintenance');
  assert.equal(root?.kind === 'page' && root.page.body.toString(), '<h1>back soon</h1>');
  const api = table.forRoute(routes.match('app.example.com', '/api/v1')!);
  assert.deepEqual(api, { kind: 'target', clientId: 'desktop', service: 'api', label: 'desktop/api' });
  assert.equal(table.forRoute(routes.match('other.example.com', '/')!)?.label, 'page:maintenance', 'the wildcard route has its own');
  // Routes without an entry have no fallback.
  const only = FallbackTable.build(routes, [entries[1]!], pages).table;
  assert.equal(only.forRoute(routes.match('app.example.com', '/')!), undefined);
});

test('malformed, unused, self-referencing and page-less entries are skipped with their reason; the rest works', () => {
  const broken = new Map<string, RawPageRead>([
    ...pages,
    ['bad', page('404', 'text/html', 'x')],
    ['gone', { ok: false, reason: 'key "hopgate:page:gone" does not exist' }],
  ]);
  const entries: RawFallbackEntry[] = [
    { key: 'hopgate:fallback:app.example.com', host: 'app.example.com', field: '/', value: 'page:maintenance' },
    { key: 'hopgate:fallback:app.example.com', host: 'app.example.com', field: 'api', value: 'desktop/api' },
    { key: 'hopgate:fallback:app.example.com', host: 'app.example.com', field: '/api', value: 'laptop/other' },
    { key: 'hopgate:fallback:app.example.com', host: 'app.example.com', field: '/none', value: 'desktop/web' },
    { key: 'hopgate:fallback:bad_host', host: 'bad_host', field: '/', value: 'desktop/web' },
    { key: 'hopgate:fallback:bad_host', host: 'bad_host', field: '/x', value: 'desktop/web' },
    { key: 'hopgate:fallback:*.example.com', host: '*.example.com', field: '/', value: 'page:bad' },
    { key: 'hopgate:fallback:App.example.com', host: 'App.example.com', field: '/', value: 'page:gone' },
    { key: 'hopgate:fallback:x.example.com', host: 'x.example.com', field: '/', value: 'nonsense' },
  ];
  const { table, errors } = FallbackTable.build(routes, entries, broken);
  assert.equal(table.size, 1, 'only app.example.com/ is usable');
  assert.equal(table.entries()[0]?.route, 'app.example.com/');
  const reasons = errors.map((e) => `${e.key} ${e.field ?? ''} ${e.reason}`);
  const expect = [
    /fallback:app\.example\.com api path prefix must start with "\/"/,
    /fallback:app\.example\.com \/api names the route's own client "laptop"/,
    /fallback:app\.example\.com \/none no route app\.example\.com\/none .*unused/,
    /fallback:bad_host {2}/,
    /fallback:\*\.example\.com \/ page "bad" is not usable: status 404/,
    /fallback:App\.example\.com \/ duplicate of the same field/,
    /fallback:x\.example\.com \/ value must be/,
  ];
  assert.equal(errors.length, expect.length, reasons.join('\n'));
  for (const re of expect) assert.ok(reasons.some((r) => re.test(r)), `${re} in\n${reasons.join('\n')}`);
  // A missing page: the entry that names it is skipped.
  const missing = FallbackTable.build(routes, [{ host: 'app.example.com', field: '/', value: 'page:gone' }], broken);
  assert.equal(missing.table.size, 0);
  assert.match(missing.errors[0]!.reason, /does not exist/);
  const unread = FallbackTable.build(routes, [{ host: 'app.example.com', field: '/', value: 'page:never-read' }], broken);
  assert.match(unread.errors[0]!.reason, /page key missing/);
});

test('diff: added, removed, changed (a page whose body changed counts as changed)', () => {
  const a = FallbackTable.build(routes, [{ host: 'app.example.com', field: '/', value: 'page:maintenance' }, { host: 'app.example.com', field: '/api', value: 'desktop/api' }], pages).table;
  const edited = new Map<string, RawPageRead>([['maintenance', page('503', 'text/html; charset=utf-8', '<h1>later</h1>')]]);
  const b = FallbackTable.build(routes, [{ host: 'app.example.com', field: '/', value: 'page:maintenance' }, { host: '*.example.com', field: '/', value: 'desktop/web' }], edited).table;
  assert.deepEqual(a.diff(b), {
    added: ['*.example.com/ -> desktop/web'],
    removed: ['app.example.com/api -> desktop/api'],
    changed: ['app.example.com/ -> page:maintenance'],
  });
  assert.deepEqual(b.diff(b), { added: [], removed: [], changed: [] });
});
