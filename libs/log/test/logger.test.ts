import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, lazyChild, containedCallback, REDACT_PATHS, REDACT_CENSOR, redactSecrets } from '../src/index.js';

test('tokens and keys are redacted, fields are snake_case JSON', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const log = createLogger({ service: 'test', level: 'info', destination: sink });
  log.child({ component: 'auth' }).info({ client_id: 'c1', token: 'secret-token', headers: { authorization: 'Bearer x' } }, 'hello');
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]!);
  assert.equal(rec.client_id, 'c1');
  assert.equal(rec.component, 'auth');
  assert.equal(rec.token, '[redacted]');
  assert.equal(rec.headers.authorization, '[redacted]');
  assert.ok(!lines[0]!.includes('secret-token'));
});

test('lazyChild: no child until something is logged at an enabled level; then the bindings are on the line', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const parent = createLogger({ service: 'test', level: 'info', destination: sink });
  let children = 0;
  const realChild = parent.child.bind(parent);
  parent.child = ((...args: Parameters<typeof parent.child>) => {
    children += 1;
    return realChild(...args);
  }) as typeof parent.child;
  const log = lazyChild(parent, { request_id: 'r-1', token: 'secret-token' });
  log.debug({ status: 200 }, 'below the level');
  assert.equal(children, 0);
  log.info({ code: 'X' }, 'logged');
  log.warn('again');
  assert.equal(children, 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 2);
  const rec = JSON.parse(lines[0]!);
  assert.equal(rec.request_id, 'r-1');
  assert.equal(rec.code, 'X');
  assert.equal(rec.msg, 'logged');
  assert.equal(rec.token, '[redacted]');
  assert.equal(JSON.parse(lines[1]!).request_id, 'r-1');
});

test('containedCallback: a throw is logged at error with its stack and goes no further', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const log = createLogger({ service: 'test', level: 'info', destination: sink });
  const seen: number[] = [];
  const callback = containedCallback(log, 'test callback', (n: number) => {
    seen.push(n);
    if (n === 1) throw new TypeError('bad input');
  });
  assert.doesNotThrow(() => callback(1));
  callback(2);
  assert.deepEqual(seen, [1, 2]);
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]!);
  assert.equal(rec.level, 'error');
  assert.equal(rec.msg, 'test callback failed: input dropped');
  assert.equal(rec.err.type, 'TypeError');
  assert.match(rec.err.stack, /bad input/);
});

/** `{ a: { b: value } }` for the path 'a.b'. */
function objectAt(path: readonly string[], value: unknown): Record<string, unknown> {
  return path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

function valueAt(obj: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((inner, key) => (inner as Record<string, unknown> | undefined)?.[key], obj);
}

test('redaction: every REDACT_PATHS path is censored, with `*` as any field, in the logged object and in child bindings', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const log = createLogger({ service: 'test', level: 'info', destination: sink });
  const cases: string[][] = [];
  for (const redactPath of REDACT_PATHS) {
    const parts = redactPath.split('.');
    if (parts[0] === '*') for (const field of ['req', 'headers', 'config']) cases.push([field, ...parts.slice(1)]);
    else cases.push(parts);
  }
  assert.ok(REDACT_PATHS.includes('*.authorization') && REDACT_PATHS.includes('*.headers.cookie'));
  for (const path of cases) {
    const logged = objectAt(path, 'secret-value');
    const before = JSON.stringify(logged);
    log.info({ ...logged, status: 200 }, 'fields');
    log.child(logged).info('bindings');
    assert.equal(JSON.stringify(logged), before, `the caller's object is left as it was (${path.join('.')})`);
  }
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, cases.length * 2);
  cases.forEach((path, i) => {
    for (const line of [lines[2 * i]!, lines[2 * i + 1]!]) {
      assert.ok(!line.includes('secret-value'), `${path.join('.')}: ${line}`);
      assert.equal(valueAt(JSON.parse(line), path), REDACT_CENSOR, path.join('.'));
    }
  });
  assert.equal(JSON.parse(lines[0]!).status, 200);
});

test('redaction: an error under err that holds a secret keeps its type, message, stack and other fields', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const log = createLogger({ service: 'test', level: 'info', destination: sink });
  const err = Object.assign(new RangeError('out of range'), { code: 'E_RANGE', password: 'secret-value', headers: { cookie: 'secret-value' } });
  log.error({ err, request_id: 'r-1' }, 'failed');
  log.error(err, 'failed again');
  await new Promise((r) => setImmediate(r));
  for (const line of lines) {
    assert.ok(!line.includes('secret-value'), line);
    const rec = JSON.parse(line);
    assert.equal(rec.err.type, 'RangeError');
    assert.equal(rec.err.message, 'out of range');
    assert.match(rec.err.stack, /out of range/);
    assert.equal(rec.err.code, 'E_RANGE');
    assert.equal(rec.err.password, REDACT_CENSOR);
    assert.equal(rec.err.headers.cookie, REDACT_CENSOR);
  }
  assert.equal(err.password, 'secret-value');
});

test('redaction: a line with no secret is logged as it was given (no copy of the object)', () => {
  const fields = { status: 200, duration_ms: 1.5, route: 'a.example/', nested: { ok: true }, headers: { accept: '*/*' } };
  assert.equal(redactSecrets(fields), fields);
});
