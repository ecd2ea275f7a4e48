/**
 * The walking skeleton end to end: built services as real processes, real redis-server,
 * nats-server, UDP DTLS, HTTPS with a dev CA. One stack with two hubs serves the tests
 * in this file, in order.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { Stack, waitFor, createDevCa, type ManagedProcess } from '@hopgate/testkit';
import { startOrigin, PublicClient, assertPublicError, waitForIngressReason, type Origin } from './helpers.js';

let stack: Stack;
let web: Origin;
let api: Origin;
let pub: PublicClient;
let laptopToken: string;
let laptopAgent: ManagedProcess;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-e2e-'));
  stack = await Stack.start({
    dir,
    hubs: 2,
    ingressEnv: { HOPGATE_RESPONSE_TIMEOUT_MS: '4000' },
    ingressNames: ['*.hopgate.test', '*.wild.hopgate.test', 'a.b.wild.hopgate.test'],
  });
  web = await startOrigin('web');
  api = await startOrigin('api');
  laptopToken = await stack.addClient('laptop');
  await stack.setRoute('app.hopgate.test', '/', 'laptop/web');
  await stack.setRoute('app.hopgate.test', '/api', 'laptop/api');
  laptopAgent = await stack.startAgent({ clientId: 'laptop', token: laptopToken, services: { web: web.address, api: api.address }, hub: 0 });
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await stack?.stop();
  await web?.close();
  await api?.close();
});

test('GET small: served through ingress -> NATS -> hub -> DTLS -> agent -> origin', async () => {
  const res = await pub.request('app.hopgate.test', '/hello');
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'hello from web\n');
  assert.ok(typeof res.headers['x-hopgate-request-id'] === 'string');
  assert.equal(res.headers['server-timing'], undefined, 'no Server-Timing unless HOPGATE_SERVER_TIMING is set');
});

test('longest prefix wins, origin sees the public Host rebuilt from its parsed name (lower case) and X-Forwarded-*', async () => {
  const res = await pub.request('APP.hopgate.test', '/api/headers', { headers: { 'x-forwarded-for': '6.6.6.6' } });
  assert.equal(res.status, 200);
  assert.equal(api.seen.at(-1)?.url, '/api/headers');
  const headers = api.seen.at(-1)!.headers;
  assert.equal(headers.host, 'app.hopgate.test');
  assert.equal(headers['x-forwarded-proto'], 'https');
  assert.equal(headers['x-forwarded-host'], 'app.hopgate.test');
  assert.equal(headers['x-forwarded-for'], '127.0.0.1');
});

test('repeated Set-Cookie headers stay apart', async () => {
  const res = await pub.request('app.hopgate.test', '/cookies');
  assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
});

test('POST 10 MiB: the origin receives every byte (sha256 equal)', async () => {
  const body = crypto.randomBytes(10 * 1024 * 1024);
  const expected = crypto.createHash('sha256').update(body).digest('hex');
  const res = await pub.request('app.hopgate.test', '/sha256', { method: 'POST', body });
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body.toString()), { sha256: expected, length: body.length });
});

test('streamed (chunked) upload of 3 MiB arrives intact', async () => {
  const parts = Array.from({ length: 48 }, () => crypto.randomBytes(64 * 1024));
  const expected = crypto.createHash('sha256').update(Buffer.concat(parts)).digest('hex');
  const res = await pub.request('app.hopgate.test', '/sha256', { method: 'POST', body: Readable.from(parts) });
  assert.equal(JSON.parse(res.body.toString()).sha256, expected);
});

test('download 8 MiB intact', async () => {
  const res = await pub.request('app.hopgate.test', `/bytes/${8 * 1024 * 1024}`);
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 8 * 1024 * 1024);
  assert.equal(crypto.createHash('sha256').update(res.body).digest('hex'), res.headers['x-sha256']);
});

test('64 concurrent requests over one agent session', async () => {
  const results = await Promise.all(
    Array.from({ length: 64 }, (_, i) => pub.request('app.hopgate.test', `/bytes/${1024 + i * 997}`)),
  );
  for (const [i, r] of results.entries()) {
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 1024 + i * 997);
    assert.equal(crypto.createHash('sha256').update(r.body).digest('hex'), r.headers['x-sha256']);
  }
});

test('two hubs: agent A on hub 1 and agent B on hub 2 are both reachable from one ingress', async () => {
  const tokenB = await stack.addClient('lab');
  const lab = await startOrigin('lab');
  try {
    await stack.setRoute('lab.hopgate.test', '/', 'lab/site');
    const agentB = await stack.startAgent({ clientId: 'lab', token: tokenB, services: { site: lab.address }, hub: 1 });
    const online = agentB.records.find((r) => r.msg === 'online: session established');
    assert.equal(online?.['hub_id'], 'hub-2');
    const a = await pub.request('app.hopgate.test', '/hello');
    const b = await pub.request('lab.hopgate.test', '/hello');
    assert.equal(a.body.toString(), 'hello from web\n');
    assert.equal(b.body.toString(), 'hello from lab\n');
    await agentB.stop();
  } finally {
    await lab.close();
  }
});

test('a route added with plain redis HSET is served within 2 s; HDEL gives 404', async () => {
  const redis = new Redis(stack.redis.url);
  try {
    assert.equal((await pub.request('live.hopgate.test', '/')).status, 404);
    await redis.hset('hopgate:route:live.hopgate.test', '/', 'laptop/web');
    const started = Date.now();
    await waitFor('route applied', async () => (await pub.request('live.hopgate.test', '/hello')).status === 200, 2000, 50);
    assert.ok(Date.now() - started <= 2000);
    await redis.hdel('hopgate:route:live.hopgate.test', '/');
    await waitFor('route removed', async () => (await pub.request('live.hopgate.test', '/hello')).status === 404, 2000, 50);
  } finally {
    redis.disconnect();
  }
});

test('wildcard route matches one label; an invalid route is skipped, the rest works', async () => {
  const redis = new Redis(stack.redis.url);
  try {
    await redis.hset('hopgate:route:*.wild.hopgate.test', '/', 'laptop/web');
    await redis.hset('hopgate:route:bad.hopgate.test', 'no-slash', 'laptop/web', '/ok', 'not a target');
    await waitFor('wildcard applied', async () => (await pub.request('x.wild.hopgate.test', '/hello')).status === 200, 4000, 50);
    assert.equal((await pub.request('a.b.wild.hopgate.test', '/hello')).status, 404);
    assert.equal((await pub.request('bad.hopgate.test', '/ok')).status, 404);
    assert.equal((await pub.request('app.hopgate.test', '/hello')).status, 200);
  } finally {
    redis.disconnect();
  }
});

test('unknown host: 404 with a plain-text reason', async () => {
  const res = await pub.request('nobody.hopgate.test', '/x');
  assert.equal(res.status, 404);
  const id = assertPublicError(res.body.toString(), 'ERR_NO_ROUTE', res.headers['x-hopgate-request-id'] as string);
  await waitForIngressReason(stack, id, /no route for nobody\.hopgate\.test\/x/);
  assert.match(String(res.headers['content-type']), /text\/plain/);
});

test('local service down: 502, the service named in the logs only', async () => {
  const gone = await startOrigin('gone');
  await gone.close();
  const token = await stack.addClient('downbox');
  await stack.setRoute('down.hopgate.test', '/', 'downbox/site');
  const agent = await stack.startAgent({ clientId: 'downbox', token, services: { site: gone.address } });
  try {
    const res = await pub.request('down.hopgate.test', '/');
    assert.equal(res.status, 502);
    const id = assertPublicError(res.body.toString(), 'ERR_ORIGIN_UNREACHABLE', res.headers['x-hopgate-request-id'] as string);
    await waitForIngressReason(stack, id, /cannot reach local service "site"/);
  } finally {
    await agent.stop();
  }
});

test('no answer in time: 504', async () => {
  const res = await pub.request('app.hopgate.test', '/hang');
  assert.equal(res.status, 504);
  const id = assertPublicError(res.body.toString(), 'ERR_TIMEOUT', res.headers['x-hopgate-request-id'] as string);
  await waitForIngressReason(stack, id, /no response/);
});

test('agent stopped -> 502 (the client named in the logs only); agent restarted -> served again', async () => {
  await laptopAgent.stop();
  await waitFor('502 after agent stop', async () => (await pub.request('app.hopgate.test', '/hello')).status === 502, 5000, 50);
  const res = await pub.request('app.hopgate.test', '/hello');
  const id = assertPublicError(res.body.toString(), 'ERR_CLIENT_OFFLINE', res.headers['x-hopgate-request-id'] as string);
  await waitForIngressReason(stack, id, /client "laptop"/);
  laptopAgent = await stack.startAgent({ clientId: 'laptop', token: laptopToken, services: { web: web.address, api: api.address }, hub: 1 });
  await waitFor('served again', async () => (await pub.request('app.hopgate.test', '/hello')).status === 200, 5000, 50);
});

test('agent killed mid-session (SIGKILL) -> 502, then a new agent on the other hub takes over', async () => {
  await laptopAgent.kill();
  await waitFor('502 after kill', async () => (await pub.request('app.hopgate.test', '/hello')).status === 502, 10_000, 100);
  laptopAgent = await stack.startAgent({ clientId: 'laptop', token: laptopToken, services: { web: web.address, api: api.address }, hub: 0 });
  await waitFor('served again', async () => (await pub.request('app.hopgate.test', '/hello')).status === 200, 5000, 50);
});

test('a newer session for the same client and instance id replaces the older one (epoch fencing)', async () => {
  // Another process with the same instance_id (a copied config with a fixed id): not a replica.
  const instanceId = laptopAgent.records.findLast((r) => r.msg === 'online: session established')?.['instance_id'];
  assert.equal(typeof instanceId, 'string');
  const second = await stack.startAgent({ clientId: 'laptop', token: laptopToken, services: { web: web.address, api: api.address }, hub: 1, extra: { instance_id: instanceId } });
  await laptopAgent.waitForLog('replaced', (r) => r.msg === 'another agent with this client_id took over the session: stopping' && r['code'] === 'ERR_SESSION_REPLACED');
  // The replaced agent stops (exit code 3) instead of taking the session back: no flapping.
  await waitFor('old agent exited', () => laptopAgent.child.exitCode === 3, 5000);
  await waitFor('served by the new session', async () => (await pub.request('app.hopgate.test', '/hello')).status === 200, 5000, 50);
  const redis = new Redis(stack.redis.url);
  try {
    const rec = await redis.hgetall('hopgate:session:laptop');
    assert.equal(rec['hub'], 'hub-2');
  } finally {
    redis.disconnect();
  }
  laptopAgent = second;
});

test('wrong token: the hub refuses, the agent logs it and backs off; nothing is served', async () => {
  await stack.addClient('intruder');
  await stack.setRoute('intruder.hopgate.test', '/', 'intruder/web');
  const agent = await stack.startAgent({ clientId: 'intruder', token: 'not-the-token', services: { web: web.address }, waitOnline: false });
  try {
    const refused = await agent.waitForLog('refused', (r) => r.msg === 'the hub refused this agent');
    assert.equal(refused['code'], 'ERR_AUTH_FAILED');
    assert.equal(refused['reason'], 'authentication failed');
    assert.equal(refused['attempt'], 1);
    assert.ok(typeof refused['delay_ms'] === 'number' && refused['delay_ms'] > 0, 'the refusal line names the backoff delay');
    assert.equal((await pub.request('intruder.hopgate.test', '/')).status, 502);
    assert.equal(agent.countLogs((r) => r.msg === 'online: session established'), 0);
  } finally {
    await agent.stop();
  }
});

test('an agent that trusts another CA refuses the hub', async () => {
  const otherCa = createDevCa(path.join(stack.dir, 'other-ca'), 'Some Other CA');
  const token = await stack.addClient('careful');
  const agent = await stack.startAgent({ clientId: 'careful', token, services: { web: web.address }, caFile: otherCa.certFile, waitOnline: false });
  try {
    await agent.waitForLog('refusing the hub', (r) => r.msg === 'refusing the hub: its certificate does not verify');
    assert.equal(agent.countLogs((r) => r.msg === 'online: session established'), 0);
  } finally {
    await agent.stop();
  }
});

test('an agent that expects another server name refuses the hub', async () => {
  const token = await stack.addClient('careful2');
  const agent = await stack.startAgent({ clientId: 'careful2', token, services: { web: web.address }, serverName: 'evil.example.com', waitOnline: false });
  try {
    await agent.waitForLog('refusing the hub', (r) => r.msg === 'refusing the hub: its certificate does not verify');
  } finally {
    await agent.stop();
  }
});

test('port 80 redirects to HTTPS', async () => {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: stack.httpPort, path: '/a?b=1', headers: { host: 'app.hopgate.test' } }, resolve).on('error', reject);
  });
  res.resume();
  assert.equal(res.statusCode, 308);
  assert.equal(res.headers.location, `https://app.hopgate.test:${stack.httpsPort}/a?b=1`);
});

test('no token or key ever reaches a log', () => {
  for (const proc of [stack.ingress, ...stack.hubs.map((h) => h.process), ...stack.agents]) {
    const text = JSON.stringify(proc.records);
    assert.ok(!text.includes(laptopToken), `${proc.name} logged a token`);
    assert.ok(!text.includes('BEGIN PRIVATE KEY'), `${proc.name} logged a key`);
  }
});
