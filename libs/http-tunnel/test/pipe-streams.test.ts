import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Readable, Writable } from 'node:stream';
import { Coalescer, pipeStreams } from '../src/index.js';

function sink(got: Buffer[]): Writable {
  return new Writable({ write(chunk: Buffer, _e, cb) { got.push(chunk); cb(); } });
}

test('pipeStreams: every byte in order through a transform; resolves after the destination finished', async () => {
  const parts = Array.from({ length: 200 }, (_, i) => crypto.randomBytes(50 + i * 7));
  const got: Buffer[] = [];
  const dest = sink(got);
  await pipeStreams(Readable.from(parts), new Coalescer(4096), dest);
  assert.equal(dest.writableFinished, true);
  assert.ok(Buffer.concat(got).equals(Buffer.concat(parts)));
});

test('pipeStreams: a source error destroys the others and rejects with that error', async () => {
  const source = new PassThrough();
  const middle = new PassThrough();
  const dest = sink([]);
  const done = pipeStreams(source, middle, dest);
  source.write('some');
  source.destroy(Object.assign(new Error('boom'), { code: 'X_BOOM' }));
  await assert.rejects(done, (err: Error & { code?: string }) => err.code === 'X_BOOM');
  assert.equal(middle.destroyed, true);
  assert.equal(dest.destroyed, true);
});

test('pipeStreams: a destination closed before it finished is a premature close; the source is destroyed', async () => {
  const source = new PassThrough();
  const dest = sink([]);
  const done = pipeStreams(source, dest);
  source.write('part');
  dest.destroy();
  await assert.rejects(done, (err: Error & { code?: string }) => err.code === 'ERR_STREAM_PREMATURE_CLOSE');
  assert.equal(source.destroyed, true);
});

test('pipeStreams: a source that already ended still ends the destination', async () => {
  const source = new PassThrough();
  source.end('x');
  source.resume();
  await once(source, 'end');
  const got: Buffer[] = [];
  await pipeStreams(source, sink(got));
  assert.equal(got.length, 0);
});
