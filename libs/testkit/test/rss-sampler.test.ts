import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RssSampler, readRssBytes, waitFor } from '../src/index.js';

const MIB = 1024 * 1024;

test('readRssBytes reads VmRSS of a live process and nothing for a missing one', () => {
  const rss = readRssBytes(process.pid);
  assert.ok(rss !== undefined && rss > MIB, `own VmRSS ${rss}`);
  assert.equal(readRssBytes(2 ** 22 + 12_345), undefined);
});

test('RssSampler keeps the idle reading and the peak while memory grows', async () => {
  const sampler = new RssSampler({ self: process.pid }, 10).start();
  const idle = sampler.snapshot().self!.idleBytes;
  const held = Buffer.alloc(64 * MIB, 1); // touched pages: resident
  await waitFor('a few samples', () => sampler.snapshot().self!.samples >= 3);
  const figures = sampler.stop().self!;
  assert.equal(figures.idleBytes, idle);
  assert.ok(figures.growthBytes >= 48 * MIB, `growth ${figures.growthBytes} bytes after holding 64 MiB`);
  assert.equal(figures.peakBytes - figures.idleBytes, figures.growthBytes);
  assert.equal(held.length, 64 * MIB);
});
