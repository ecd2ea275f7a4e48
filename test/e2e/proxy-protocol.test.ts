/**
 * PROXY protocol (HOPGATE_PROXY_PROTOCOL=true) on both TCP listeners of the ingress: a
 * trusted load balancer (127.0.0.2, in HOPGATE_TRUSTED_PROXIES) sends a v1 or v2 header,
 * then TLS (HTTP/1.1 or HTTP/2) or plain HTTP; the origin sees the header's source in
 * X-Forwarded-For and the access log has it as client_ip. A peer outside the trusted list
 * (127.0.0.1), and a trusted peer without a valid header, are closed without a byte, and the
 * ingress carries on.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Stack, type LogRecord } from '@hopgate/testkit';
import { startEdgeOrigin, type EdgeOrigin } from './edge-helpers.js';
import {
  closedByServer,
  echoFromRaw,
  echoHttp2,
  ingressLog,
  proxyV1,
  proxyV2,
  rawExchange,
  servedLog,
  tcpConnect,
  tlsOver,
  TRUSTED_PEER,
  UNTRUSTED_PEER,
  type EchoReply,
} from './forwarding-helpers.js';

const HOST = 'pp.hopgate.test';
/** The client the load balancer reports, and the public address and port it accepted the client on. */
const CLIENT_V4 = '198.51.100.23';
const CLIENT_V6 = '2001:db8::23';
const PUBLIC_V4 = '203.0.113.1';
const PUBLIC_V6 = '2001:db8::1';
const PUBLIC_HTTPS_PORT = 443;
const PUBLIC_HTTP_PORT = 80;

let stack: Stack;
let origin: EdgeOrigin;

before(async () => {
  origin = await startEdgeOrigin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-pp-'));
  stack = await Stack.start({
    dir,
    hubs: 1,
    ingressEnv: { HOPGATE_PROXY_PROTOCOL: 'true', HOPGATE_TRUSTED_PROXIES: `${TRUSTED_PEER}/32`, HOPGATE_HTTP_MODE: 'serve' },
    // The refusals are logged one by one at debug.
    ingressLogLevel: 'debug',
  });
  const token = await stack.addClient('ppbox');
  await stack.setRoute(HOST, '/', 'ppbox/web');
  await stack.startAgent({ clientId: 'ppbox', token, services: { web: origin.address } });
});

after(async () => {
  await stack?.stop();
  await origin?.close();
});

function request(pathAndQuery: string, extra = ''): string {
  return `GET ${pathAndQuery} HTTP/1.1\r\nHost: ${HOST}\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n${extra}Connection: close\r\n\r\n`;
}

/** The origin got the load balancer's client, never the request's own claims; the access log names it too. */
async function assertClient(reply: EchoReply, expected: { clientIp: string; proto: 'http' | 'https'; port: number; forwardedFor?: string }): Promise<void> {
  assert.equal(reply.status, 200);
  const h = reply.body.headers;
  assert.equal(h['x-forwarded-for'], expected.forwardedFor ?? expected.clientIp);
  assert.equal(h['x-real-ip'], expected.clientIp);
  assert.equal(h['x-forwarded-proto'], expected.proto);
  assert.equal(h['x-forwarded-port'], String(expected.port));
  const node = expected.clientIp.includes(':') ? `"[${expected.clientIp}]"` : expected.clientIp;
  assert.equal(h['forwarded'], `for=${node};proto=${expected.proto};host=${HOST}`);
  const served = await servedLog(stack, reply.requestId);
  assert.equal(served.client_ip, expected.clientIp);
}

test('v1 then TLS, HTTP/1.1: the origin sees the PROXY source in X-Forwarded-For; the access log has it', async () => {
  const socket = await tcpConnect(stack.httpsPort, TRUSTED_PEER);
  socket.write(proxyV1('TCP4', CLIENT_V4, PUBLIC_V4, 51234, PUBLIC_HTTPS_PORT));
  const secure = await tlsOver(stack, socket, HOST, ['http/1.1']);
  const reply = echoFromRaw(await rawExchange(secure, request('/echo?pp=v1-tls')));
  await assertClient(reply, { clientIp: CLIENT_V4, proto: 'https', port: PUBLIC_HTTPS_PORT });
});

test('v2 (IPv6, with TLVs) then TLS, HTTP/2', async () => {
  const socket = await tcpConnect(stack.httpsPort, TRUSTED_PEER);
  const tlvs = Buffer.from([0x04, 0x00, 0x03, 0x00, 0x00, 0x00]);
  socket.write(proxyV2({ command: 'proxy', source: CLIENT_V6, destination: PUBLIC_V6, sourcePort: 40000, destinationPort: 8443 }, tlvs));
  const secure = await tlsOver(stack, socket, HOST, ['h2']);
  const reply = await echoHttp2(stack, HOST, '/echo?pp=v2-h2', { socket: secure, headers: { 'x-forwarded-for': '6.6.6.6' } });
  await assertClient(reply, { clientIp: CLIENT_V6, proto: 'https', port: 8443 });
});

test('v1 and v2 on the plain HTTP port (serve mode), header and request in one segment', async () => {
  const v1 = await tcpConnect(stack.httpPort, TRUSTED_PEER);
  const v1Reply = echoFromRaw(await rawExchange(v1, Buffer.concat([proxyV1('TCP4', CLIENT_V4, PUBLIC_V4, 51000, PUBLIC_HTTP_PORT), Buffer.from(request('/echo?pp=v1-http'))])));
  await assertClient(v1Reply, { clientIp: CLIENT_V4, proto: 'http', port: PUBLIC_HTTP_PORT });
  const v2 = await tcpConnect(stack.httpPort, TRUSTED_PEER);
  const header = proxyV2({ command: 'proxy', source: '198.51.100.99', destination: PUBLIC_V4, sourcePort: 52000, destinationPort: PUBLIC_HTTP_PORT });
  const v2Reply = echoFromRaw(await rawExchange(v2, Buffer.concat([header, Buffer.from(request('/echo?pp=v2-http'))])));
  await assertClient(v2Reply, { clientIp: '198.51.100.99', proto: 'http', port: PUBLIC_HTTP_PORT });
});

test('v2 LOCAL (a load balancer health check): the connection is the balancer\'s own, a trusted peer', async () => {
  const socket = await tcpConnect(stack.httpsPort, TRUSTED_PEER);
  socket.write(proxyV2({ command: 'local' }));
  const secure = await tlsOver(stack, socket, HOST, ['http/1.1']);
  const reply = echoFromRaw(await rawExchange(secure, request('/echo?pp=local')));
  // The balancer is trusted, so the X-Forwarded-For it sent is kept and extended.
  await assertClient(reply, { clientIp: '6.6.6.6', forwardedFor: `6.6.6.6, ${TRUSTED_PEER}`, proto: 'https', port: stack.httpsPort });
});

test('a request node\'s parser refuses is logged with the PROXY source as client_ip', async () => {
  const from = stack.ingress.records.length;
  const socket = await tcpConnect(stack.httpPort, TRUSTED_PEER);
  const smuggle = `GET /echo HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`;
  const answer = await rawExchange(socket, Buffer.concat([proxyV1('TCP4', '198.51.100.66', PUBLIC_V4, 50001, PUBLIC_HTTP_PORT), Buffer.from(smuggle)]));
  assert.match(answer, /^HTTP\/1\.1 400 /);
  const logged = await ingressLog(stack, 'malformed request refused', (r) => r.msg === 'malformed request refused', from);
  assert.equal(logged.client_ip, '198.51.100.66');
});

/** A refusal logged at debug for this peer and reason, after record `from`. */
function refusal(from: number, remote: string, reason: string): Promise<LogRecord> {
  return ingressLog(stack, `refusal ${reason} of ${remote}`, (r) => r.msg === 'proxy protocol: connection refused' && r.remote === remote && r.reason === reason, from);
}

test('a peer outside HOPGATE_TRUSTED_PROXIES is closed without a byte on both ports, even with a valid header', async () => {
  for (const port of [stack.httpsPort, stack.httpPort]) {
    const from = stack.ingress.records.length;
    const socket = await tcpConnect(port, UNTRUSTED_PEER);
    const closed = closedByServer(socket);
    socket.write(Buffer.concat([proxyV1('TCP4', CLIENT_V4, PUBLIC_V4, 51234, 443), Buffer.from(request('/echo?pp=untrusted'))]));
    assert.equal((await closed).length, 0);
    await refusal(from, UNTRUSTED_PEER, 'untrusted_peer');
  }
  assert.ok(!origin.seen.some((r) => r.url === '/echo?pp=untrusted'));
});

test('a trusted peer without a header, or with a bad one, is closed without a byte', async () => {
  let from = stack.ingress.records.length;
  // TLS straight away: the ClientHello is no PROXY header.
  const socket = await tcpConnect(stack.httpsPort, TRUSTED_PEER);
  const refused = tls.connect({ socket, servername: HOST, ca: fs.readFileSync(stack.ca.certFile) });
  const outcome = await new Promise<string>((resolve) => {
    refused.once('secureConnect', () => resolve('handshake finished'));
    refused.once('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message));
    refused.once('close', () => resolve('closed'));
  });
  assert.notEqual(outcome, 'handshake finished');
  await refusal(from, TRUSTED_PEER, 'invalid_header');

  from = stack.ingress.records.length;
  const plain = await tcpConnect(stack.httpPort, TRUSTED_PEER);
  const plainClosed = closedByServer(plain);
  plain.write(request('/echo?pp=no-header'));
  assert.equal((await plainClosed).length, 0);
  await refusal(from, TRUSTED_PEER, 'invalid_header');

  from = stack.ingress.records.length;
  const bad = await tcpConnect(stack.httpPort, TRUSTED_PEER);
  const badClosed = closedByServer(bad);
  bad.write(`PROXY TCP4 ${CLIENT_V4} ${PUBLIC_V4} 51234 080\r\n${request('/echo?pp=bad-header')}`);
  assert.equal((await badClosed).length, 0);
  const logged = await refusal(from, TRUSTED_PEER, 'invalid_header');
  assert.match(String(logged.detail), /port/);
  assert.ok(!origin.seen.some((r) => r.url === '/echo?pp=no-header' || r.url === '/echo?pp=bad-header'));
});

test('after every refusal the ingress is up and serves the next proxied connection', async () => {
  assert.equal(stack.ingress.exited, false);
  const socket = await tcpConnect(stack.httpsPort, TRUSTED_PEER);
  socket.write(proxyV1('TCP4', '198.51.100.77', PUBLIC_V4, 50000, PUBLIC_HTTPS_PORT));
  const secure = await tlsOver(stack, socket, HOST, ['http/1.1']);
  await assertClient(echoFromRaw(await rawExchange(secure, request('/echo?pp=after'))), { clientIp: '198.51.100.77', proto: 'https', port: PUBLIC_HTTPS_PORT });
});
