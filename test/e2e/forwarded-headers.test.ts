/**
 * Forwarding headers at the ingress: whatever a client sends in Forwarded, X-Real-IP,
 * True-Client-IP and X-Forwarded-*, the origin gets the ingress's own values (HTTP/1.1,
 * HTTP/2, plain HTTP, WebSocket upgrades); a peer in HOPGATE_TRUSTED_PROXIES has its
 * X-Forwarded-For kept and extended, and the access log names the client it reported.
 * One stack: connections from 127.0.0.2 (trusted) and 127.0.0.1 (not).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack } from '@hopgate/testkit';
import { startEdgeOrigin, type EdgeOrigin } from './edge-helpers.js';
import { echoHttp, echoHttp2, echoHttps1, servedLog, TRUSTED_PEER, UNTRUSTED_PEER, type Echoed } from './forwarding-helpers.js';

const HOST = 'fwd.hopgate.test';

/** Every header a client can use to lie about where it is, with the lies. */
const SPOOFED: Record<string, string> = {
  forwarded: 'for=6.6.6.6;proto=https;host=evil.example',
  'x-real-ip': '6.6.6.6',
  'true-client-ip': '6.6.6.6',
  'x-forwarded-for': '6.6.6.6',
  'x-forwarded-port': '1',
  'x-forwarded-prefix': '/admin',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'gopher',
  'x-forwarded-ssl': 'on',
};

let stack: Stack;
let origin: EdgeOrigin;

before(async () => {
  origin = await startEdgeOrigin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-fwd-'));
  stack = await Stack.start({ dir, hubs: 1, ingressEnv: { HOPGATE_TRUSTED_PROXIES: `${TRUSTED_PEER}/32`, HOPGATE_HTTP_MODE: 'serve' } });
  const token = await stack.addClient('fwdbox');
  await stack.setRoute(HOST, '/', 'fwdbox/web');
  await stack.startAgent({ clientId: 'fwdbox', token, services: { web: origin.address } });
});

after(async () => {
  await stack?.stop();
  await origin?.close();
});

/** The forwarding headers the origin got: only the ingress's own, with these values. */
function assertOwnHeaders(echoed: Echoed, expected: { clientIp: string; forwardedFor: string; proto: string; port: number; host: string }): void {
  const h = echoed.headers;
  assert.equal(h['x-forwarded-for'], expected.forwardedFor);
  assert.equal(h['x-real-ip'], expected.clientIp);
  assert.equal(h['x-forwarded-proto'], expected.proto);
  assert.equal(h['x-forwarded-host'], expected.host);
  assert.equal(h['x-forwarded-port'], String(expected.port));
  assert.equal(h['forwarded'], `for=${expected.clientIp};proto=${expected.proto};host=${expected.host}`);
  for (const name of ['true-client-ip', 'x-forwarded-prefix', 'x-forwarded-ssl']) assert.equal(h[name], undefined, name);
  // One field each: nothing the client sent survives next to the ingress's value.
  const names = echoed.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  for (const name of ['x-forwarded-for', 'x-real-ip', 'forwarded', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port']) {
    assert.equal(names.filter((n) => n === name).length, 1, name);
  }
}

test('HTTP/1.1 from an untrusted client: spoofed forwarding headers never reach the origin; the access log has client_ip', async () => {
  const reply = await echoHttps1(stack, HOST, '/echo?h1', { headers: SPOOFED });
  assert.equal(reply.status, 200);
  assertOwnHeaders(reply.body, { clientIp: UNTRUSTED_PEER, forwardedFor: UNTRUSTED_PEER, proto: 'https', port: stack.httpsPort, host: HOST });
  assert.equal((await servedLog(stack, reply.requestId)).client_ip, UNTRUSTED_PEER);
});

test('HTTP/2 from an untrusted client: the same', async () => {
  const reply = await echoHttp2(stack, HOST, '/echo?h2', { headers: SPOOFED });
  assert.equal(reply.status, 200);
  assertOwnHeaders(reply.body, { clientIp: UNTRUSTED_PEER, forwardedFor: UNTRUSTED_PEER, proto: 'https', port: stack.httpsPort, host: HOST });
  assert.equal((await servedLog(stack, reply.requestId)).client_ip, UNTRUSTED_PEER);
});

test('plain HTTP (serve mode) from an untrusted client: the same, with proto http and the HTTP port', async () => {
  const reply = await echoHttp(stack, HOST, '/echo?plain', { headers: SPOOFED });
  assert.equal(reply.status, 200);
  assertOwnHeaders(reply.body, { clientIp: UNTRUSTED_PEER, forwardedFor: UNTRUSTED_PEER, proto: 'http', port: stack.httpPort, host: HOST });
});

test('a WebSocket upgrade request carries the ingress\'s forwarding headers too', async () => {
  // The origin has no upgrade handler, so it answers /echo as a plain request; the ingress passes that on.
  const reply = await echoHttps1(stack, HOST, '/echo?upgrade', { headers: { ...SPOOFED, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
  assert.equal(reply.status, 200);
  assert.equal(reply.body.headers['upgrade'], 'websocket');
  assertOwnHeaders(reply.body, { clientIp: UNTRUSTED_PEER, forwardedFor: UNTRUSTED_PEER, proto: 'https', port: stack.httpsPort, host: HOST });
});

test('a trusted proxy: its X-Forwarded-For is kept and extended; the client is its right-most untrusted entry', async () => {
  // Its X-Forwarded-Port (one valid port) is believed too; `gopher` is no proto, so the ingress's own stays.
  const headers = { ...SPOOFED, 'x-forwarded-for': '6.6.6.6, 198.51.100.7', 'x-forwarded-port': '8443' };
  for (const send of [echoHttps1, echoHttp2]) {
    const reply = await send(stack, HOST, '/echo?trusted', { localAddress: TRUSTED_PEER, headers });
    assert.equal(reply.status, 200);
    assertOwnHeaders(reply.body, { clientIp: '198.51.100.7', forwardedFor: `6.6.6.6, 198.51.100.7, ${TRUSTED_PEER}`, proto: 'https', port: 8443, host: HOST });
    assert.equal((await servedLog(stack, reply.requestId)).client_ip, '198.51.100.7');
  }
});

test('a trusted TLS-terminating proxy on the HTTP port: its single X-Forwarded-Proto and -Port are kept', async () => {
  const reply = await echoHttp(stack, HOST, '/echo?lb', { localAddress: TRUSTED_PEER, headers: { 'x-forwarded-for': '198.51.100.9', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' } });
  assert.equal(reply.status, 200);
  assertOwnHeaders(reply.body, { clientIp: '198.51.100.9', forwardedFor: `198.51.100.9, ${TRUSTED_PEER}`, proto: 'https', port: 443, host: HOST });
  // The same from an untrusted client counts for nothing.
  const spoofed = await echoHttp(stack, HOST, '/echo?lb-spoofed', { headers: { 'x-forwarded-for': '198.51.100.9', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' } });
  assertOwnHeaders(spoofed.body, { clientIp: UNTRUSTED_PEER, forwardedFor: UNTRUSTED_PEER, proto: 'http', port: stack.httpPort, host: HOST });
});
