import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HopError, ErrorCode, errorCodeOf, isErrorCode } from '../src/index.js';

test('HopError carries a stable code and a cause', () => {
  const cause = new Error('boom');
  const err = new HopError(ErrorCode.Timeout, 'no answer', { cause });
  assert.equal(err.code, 'ERR_TIMEOUT');
  assert.equal(err.cause, cause);
  assert.equal(errorCodeOf(err), ErrorCode.Timeout);
  assert.equal(errorCodeOf(new Error('x')), ErrorCode.Internal);
  assert.equal(errorCodeOf({ code: 'ERR_BUSY' }), ErrorCode.Busy);
  assert.ok(isErrorCode('ERR_NO_ROUTE'));
  assert.ok(!isErrorCode('ENOENT'));
});
