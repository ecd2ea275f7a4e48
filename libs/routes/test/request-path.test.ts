import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeRequestPath, hasDotSegment, pathPrefixProblem, parseRequestAuthority, RouteTable } from '../src/index.js';

function normal(path: string): string {
  const result = normalizeRequestPath(path);
  assert.ok(result.ok, `${path}: ${result.ok ? '' : result.reason}`);
  return result.path;
}

function refused(path: string): string {
  const result = normalizeRequestPath(path);
  assert.ok(!result.ok, `${path} should be refused, got ${result.ok ? result.path : ''}`);
  return result.reason;
}

test('a path in normal form is returned as it is (same string)', () => {
  for (const path of ['/', '/api/v1/items', '/a.b/c..d/.e/f.', '/%2F/%00/%C3%A9', '/a\\b', '/..a/b..']) {
    assert.equal(normal(path), path);
  }
});

test('percent-encoded unreserved characters are decoded, other encodings get upper-case hex (RFC 3986 §6.2.2)', () => {
  assert.equal(normal('/%61dmin'), '/admin');
  assert.equal(normal('/%7Euser/%7e'), '/~user/~');
  assert.equal(normal('/a%2db%5Fc%2E'), '/a-b_c.');
  assert.equal(normal('/x%2fy'), '/x%2Fy');
  assert.equal(normal('/%c3%a9t%C3%A9'), '/%C3%A9t%C3%A9');
  assert.equal(normal('/%41%42%43'), '/ABC');
});

test('dot-segments are refused, also when encoded; an encoded slash is not a separator', () => {
  for (const path of ['/public/../admin', '/public/%2e%2e/admin', '/public/%2E./admin', '/public/.%2e/admin', '/./admin', '/a/.', '/a/..', '..', '.', '/%2e']) {
    assert.match(refused(path), /dot-segment/, path);
  }
  // `..%2F` is one segment named "..%2F", not a dot-segment followed by a separator.
  assert.equal(normal('/public/..%2fadmin'), '/public/..%2Fadmin');
  // A backslash is no separator either.
  assert.equal(normal('/public\\..\\admin'), '/public\\..\\admin');
});

test('malformed percent-encodings are refused', () => {
  for (const path of ['/%', '/a%4', '/a%zz', '/%g0', '/%0']) assert.match(refused(path), /malformed percent-encoding/, path);
});

test('hasDotSegment looks at whole segments only', () => {
  assert.equal(hasDotSegment('/a/./b'), true);
  assert.equal(hasDotSegment('/a/../b'), true);
  assert.equal(hasDotSegment('/a/.../b'), false);
  assert.equal(hasDotSegment('/a/.b/b.'), false);
  assert.equal(hasDotSegment('/a.'), false);
});

test('a route prefix must be in normal form: requests in normal form could never match another one', () => {
  assert.equal(pathPrefixProblem('/api'), undefined);
  assert.equal(pathPrefixProblem('/a%2Fb'), undefined);
  assert.match(pathPrefixProblem('/%61pi') ?? '', /write it as "\/api"/);
  assert.match(pathPrefixProblem('/a%2fb') ?? '', /write it as "\/a%2Fb"/);
  assert.match(pathPrefixProblem('/a/../b') ?? '', /dot-segment/);
  assert.match(pathPrefixProblem('/a%zz') ?? '', /malformed percent-encoding in the path prefix/);
});

test('an encoded form of a protected prefix falls on the protected route', () => {
  const { table } = RouteTable.build([
    { host: 'app.example.com', field: '/', value: 'public/web' },
    { host: 'app.example.com', field: '/admin', value: 'private/admin' },
  ]);
  assert.equal(table.match('app.example.com', normal('/%61dmin/x'))?.clientId, 'private');
  assert.equal(table.match('app.example.com', normal('/adm%69n'))?.clientId, 'private');
  assert.equal(table.match('app.example.com', normal('/public'))?.clientId, 'public');
});

test('authorities: name[:port] only, rebuilt lower case without a trailing dot (RFC 9110 §7.2, RFC 3986 §3.2.2)', () => {
  const ok = (raw: string): { name: string; port: number | undefined; host: string } => {
    const result = parseRequestAuthority(raw);
    assert.ok(result.ok, `${JSON.stringify(raw)}: ${result.ok ? '' : result.reason}`);
    return result.authority;
  };
  assert.deepEqual(ok('App.Example.COM'), { name: 'app.example.com', port: undefined, host: 'app.example.com' });
  assert.deepEqual(ok('app.example.com.:8443'), { name: 'app.example.com', port: 8443, host: 'app.example.com:8443' });
  assert.deepEqual(ok('127.0.0.1:080'), { name: '127.0.0.1', port: 80, host: '127.0.0.1:80' });
  assert.deepEqual(ok('[::1]:443'), { name: '[::1]', port: 443, host: '[::1]:443' });
  assert.deepEqual(ok('[2001:DB8::1]'), { name: '[2001:db8::1]', port: undefined, host: '[2001:db8::1]' });
  assert.deepEqual(ok('under_score.example'), { name: 'under_score.example', port: undefined, host: 'under_score.example' });
  for (const raw of [
    '', ':80', 'a.com:', 'a.com:0', 'a.com:65536', 'a.com:123456', 'a.com:8o', 'user@a.com', 'a.com/x', 'a.com?x', 'a.com#x',
    'a com', 'a.com ', ' a.com', 'a..com', '.a.com', 'a.com..', 'a%2ecom', 'ä.com', 'a.com:80:80', '[::1', '[::1]x', '[::1]:',
    '[v1.fe]', '[fe80::1%eth0]', 'a.com\r\nx: y', 'a.com\0', `${'a'.repeat(64)}.com`, `${'a.'.repeat(127)}com`,
  ]) {
    assert.equal(parseRequestAuthority(raw).ok, false, JSON.stringify(raw));
  }
});
