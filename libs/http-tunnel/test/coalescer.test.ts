import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Coalescer } from '../src/index.js';

test('small chunks are joined up to maxBytes, bytes and order intact', async () => {
  const parts = Array.from({ length: 500 }, (_, i) => crypto.randomBytes(100 + (i % 1100)));
  const sizes: number[] = [];
  const got: Buffer[] = [];
  await pipeline(
    Readable.from(parts),
    new Coalescer(16 * 1024),
    new Writable({ write(chunk: Buffer, _e, cb) { sizes.push(chunk.length); got.push(chunk); cb(); } }),
  );
  assert.ok(Buffer.concat(got).equals(Buffer.concat(parts)));
  assert.ok(sizes.length < parts.length / 5, `${sizes.length} chunks out of ${parts.length}`);
  assert.ok(Math.max(...sizes) < 16 * 1024 + 1200);
});

test('a lone small chunk leaves without waiting for more data or the end', async () => {
  const c = new Coalescer(64 * 1024);
  const arrived = new Promise<Buffer>((resolve) => c.once('data', resolve));
  c.write(Buffer.from('event: tick\n\n'));
  const chunk = await arrived;
  assert.equal(chunk.toString(), 'event: tick\n\n');
  c.destroy();
});
