import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../src/index.js';

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
