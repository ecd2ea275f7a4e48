import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeTunnelOpen, decodeTunnelOpen, encodeTunnelResponse, decodeTunnelResponse, type TunnelOpen } from '../src/index.js';

test('tunnel open and response round-trip; garbage is rejected', () => {
  const open: TunnelOpen = {
    clientId: 'laptop',
    route: 'app.example.com/api',
    request: { type: 'request_head', request_id: 'ing-1', service: 'api', method: 'POST', path: '/api/x?y=%20', headers: [['host', 'app.example.com']], has_body: true },
  };
  assert.deepEqual(decodeTunnelOpen(encodeTunnelOpen(open)), open);
  const resp = { type: 'response_head' as const, status: 200, headers: [['content-type', 'text/plain']] as Array<[string, string]> };
  assert.deepEqual(decodeTunnelResponse(encodeTunnelResponse(resp)), resp);
  const enc = Buffer.from(encodeTunnelOpen(open));
  for (let n = 0; n < enc.length; n++) {
    assert.throws(() => decodeTunnelOpen(enc.subarray(0, n)), { code: 'ERR_BAD_FRAME' });
  }
  assert.throws(() => decodeTunnelResponse(Buffer.from('junk')), { code: 'ERR_BAD_FRAME' });
});
