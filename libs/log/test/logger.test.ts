import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, lazyChild, containedCallback } from '../src/index.js';

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
