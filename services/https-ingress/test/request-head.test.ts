import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizedHost, pathOnly, statusForCode } from '../src/index.js';

test('host normalisation ignores case, port and a trailing dot', () => {
  assert.equal(normalizedHost('App.Example.COM:8443'), 'app.example.com');
  assert.equal(normalizedHost('app.example.com.'), 'app.example.com');
  assert.equal(normalizedHost('[::1]:443'), '[::1]');
  assert.equal(normalizedHost(undefined), '');
  assert.equal(pathOnly('/a/b?x=1'), '/a/b');
});

test('error codes map to edge statuses', () => {
  assert.equal(statusForCode('ERR_NO_ROUTE'), 404);
  assert.equal(statusForCode('ERR_CLIENT_OFFLINE'), 502);
  assert.equal(statusForCode('ERR_ORIGIN_UNREACHABLE'), 502);
  assert.equal(statusForCode('ERR_TIMEOUT'), 504);
  assert.equal(statusForCode('ERR_BUSY'), 503);
});
