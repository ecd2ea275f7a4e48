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

test('a reader that stops reading stops the writer: write() turns false and the buffer stays bounded', async () => {
  const maxBytes = 16 * 1024;
  const c = new Coalescer(maxBytes);
  const chunk = Buffer.alloc(1000, 7);
  let accepted = 0;
  // Nobody reads: small writes spread over event-loop turns (as datagrams arrive) must meet backpressure.
  for (let turn = 0; turn < 200; turn += 1) {
    let full = false;
    for (let i = 0; i < 4 && !full; i += 1) {
      accepted += chunk.length;
      full = !c.write(chunk);
    }
    await new Promise((r) => setImmediate(r));
    if (full) break;
  }
  const bound = 2 * maxBytes + 2 * maxBytes + chunk.length; // readable + writable high-water marks, one chunk over
  assert.ok(c.readableLength + c.writableLength <= bound, `buffered ${c.readableLength} + ${c.writableLength} bytes, bound ${bound}`);
  assert.ok(accepted < 200 * 4 * chunk.length, `write() never turned false (${accepted} bytes accepted)`);
  // Reading resumes the flow and everything arrives.
  c.end();
  let got = 0;
  for await (const part of c) got += (part as Buffer).length;
  assert.equal(got, accepted);
});
