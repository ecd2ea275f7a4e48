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

test('tunnel open names the chosen agent instance; an envelope without one decodes as before', () => {
  const request = { type: 'request_head' as const, request_id: 'ing-2', service: 'web', method: 'GET', path: '/', headers: [], has_body: false };
  const withInstance: TunnelOpen = { clientId: 'nas', route: 'nas.example.com/', instanceId: 'nas-b.lan-0a1b2c', request };
  assert.deepEqual(decodeTunnelOpen(encodeTunnelOpen(withInstance)), withInstance);
  const without: TunnelOpen = { clientId: 'nas', route: 'nas.example.com/', request };
  const decoded = decodeTunnelOpen(encodeTunnelOpen(without));
  assert.deepEqual(decoded, without);
  assert.equal('instanceId' in decoded, false);
  const enc = Buffer.from(encodeTunnelOpen(withInstance));
  for (let n = 0; n < enc.length; n++) {
    assert.throws(() => decodeTunnelOpen(enc.subarray(0, n)), { code: 'ERR_BAD_FRAME' });
  }
});
