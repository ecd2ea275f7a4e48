import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { clientErrorStatus, headerListSize, watchBodyIdle, H2_HEADER_FIELD_OVERHEAD_BYTES } from '../src/index.js';

/** Idle window of the watcher tests, in ms. */
const TEST_IDLE_MS = 50;

test('parser refusals map to 431, 408, 413 and otherwise 400; non-HTTP errors get no answer', () => {
  assert.equal(clientErrorStatus('HPE_HEADER_OVERFLOW'), 431);
  assert.equal(clientErrorStatus('ERR_HTTP_REQUEST_TIMEOUT'), 408);
  assert.equal(clientErrorStatus('HPE_CHUNK_EXTENSIONS_OVERFLOW'), 413);
  assert.equal(clientErrorStatus('HPE_UNEXPECTED_CONTENT_LENGTH'), 400);
  assert.equal(clientErrorStatus('HPE_INVALID_TRANSFER_ENCODING'), 400);
  assert.equal(clientErrorStatus('HPE_INVALID_HEADER_TOKEN'), 400);
  assert.equal(clientErrorStatus('ECONNRESET'), undefined, 'a reset is no request');
  assert.equal(clientErrorStatus('ERR_SSL_WRONG_VERSION_NUMBER'), undefined, 'a TLS failure is no request');
  assert.equal(clientErrorStatus(undefined), undefined);
});

test('header list size counts name, value and 32 octets per field (RFC 9113 §6.5.2)', () => {
  assert.equal(headerListSize([]), 0);
  assert.equal(headerListSize([':path', '/x', 'cookie', 'a=1']), 5 + 2 + 6 + 3 + 2 * H2_HEADER_FIELD_OVERHEAD_BYTES);
});

test('body idle watcher: fires after no data while flowing, not while paused, not after the end', async () => {
  const flowing = new PassThrough();
  flowing.resume();
  let fired = 0;
  watchBodyIdle(flowing, TEST_IDLE_MS, () => (fired += 1));
  await new Promise((r) => setTimeout(r, TEST_IDLE_MS * 4));
  assert.equal(fired, 1, 'a flowing body with no data is idle');

  const paused = new PassThrough();
  paused.resume();
  let pausedFired = 0;
  watchBodyIdle(paused, TEST_IDLE_MS, () => (pausedFired += 1));
  paused.pause();
  await new Promise((r) => setTimeout(r, TEST_IDLE_MS * 4));
  assert.equal(pausedFired, 0, 'backpressure (paused) is not idleness');

  const ended = new PassThrough();
  ended.resume();
  let endedFired = 0;
  watchBodyIdle(ended, TEST_IDLE_MS, () => (endedFired += 1));
  ended.end();
  await new Promise((r) => setTimeout(r, TEST_IDLE_MS * 4));
  assert.equal(endedFired, 0, 'a finished body is never idle');
});
