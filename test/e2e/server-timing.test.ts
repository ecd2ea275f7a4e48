/**
 * Where time goes (issue 12): with HOPGATE_SERVER_TIMING=true a response carries Server-Timing
 * (edge, origin, tunnel), and every service's access log line has its own durations: the ingress
 * head_ms and duration_ms, the hub held_ms and head_ms, the agent origin_ms. The header is off by
 * default (skeleton.test.ts checks that).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Stack, type ManagedProcess } from '@hopgate/testkit';
import { PublicClient } from './helpers.js';

const HOST = 'timing.hopgate.test';
/** How long the origin waits before its response head, in ms. */
const ORIGIN_DELAY_MS = 80;

let stack: Stack;
let pub: PublicClient;
let agent: ManagedProcess;
let origin: http.Server;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-timing-'));
  stack = await Stack.start({ dir, ingressEnv: { HOPGATE_SERVER_TIMING: 'true' } });
  origin = http.createServer((req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'server-timing': 'db;dur=12' });
      res.end('timed\n');
    }, ORIGIN_DELAY_MS);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const port = (origin.address() as { port: number }).port;
  const token = await stack.addClient('timing');
  await stack.setRoute(HOST, '/', 'timing/web');
  agent = await stack.startAgent({ clientId: 'timing', token, services: { web: `127.0.0.1:${port}` } });
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await stack?.stop();
  await new Promise((resolve) => origin?.close(resolve));
});

/** `name;dur=X` of a Server-Timing value, in ms. */
function dur(value: string, name: string): number {
  const match = new RegExp(`(?:^|, )${name};dur=([0-9.]+)`).exec(value);
  assert.ok(match, `${name} in ${value}`);
  return Number(match[1]);
}

test('Server-Timing: edge, origin and tunnel add up; the origin\'s own Server-Timing is kept', async () => {
  const res = await pub.request(HOST, '/x');
  assert.equal(res.status, 200);
  const values = ([] as string[]).concat(res.headers['server-timing'] ?? []).join(', ');
  assert.match(values, /db;dur=12/, 'the origin\'s entry is passed on');
  const edge = dur(values, 'edge');
  const originMs = dur(values, 'origin');
  const tunnel = dur(values, 'tunnel');
  assert.ok(originMs >= ORIGIN_DELAY_MS - 1, `origin ${originMs} ms covers the origin's ${ORIGIN_DELAY_MS} ms delay`);
  assert.ok(edge >= originMs, `edge ${edge} >= origin ${originMs}`);
  assert.ok(Math.abs(edge - originMs - tunnel) < 0.01, `tunnel ${tunnel} = edge ${edge} - origin ${originMs}`);
});

test('each service logs its own durations for the request, under its request id', async () => {
  const res = await pub.request(HOST, '/logged');
  assert.equal(res.status, 200);
  const id = res.headers['x-hopgate-request-id'] as string;
  const ingress = await stack.ingress.waitForLog('ingress access line', (r) => r.msg === 'request served' && r['request_id'] === id);
  const hub = await stack.hubs[0]!.process.waitForLog('hub access line', (r) => r.msg === 'request relayed' && r['request_id'] === id);
  const agentLine = await agent.waitForLog('agent access line', (r) => r.msg === 'request served' && r['request_id'] === id);
  assert.equal(agentLine.level, 'info');
  const originMs = agentLine['origin_ms'] as number;
  assert.ok(originMs >= ORIGIN_DELAY_MS - 1, `agent origin_ms ${originMs}`);
  assert.equal(ingress['origin_ms'], originMs, 'the ingress logs the agent\'s figure');
  assert.ok((ingress['head_ms'] as number) >= (hub['head_ms'] as number), `ingress head_ms ${ingress['head_ms']} >= hub head_ms ${hub['head_ms']}`);
  assert.ok((hub['head_ms'] as number) >= originMs, `hub head_ms ${hub['head_ms']} >= origin_ms ${originMs}`);
  assert.ok((hub['held_ms'] as number) >= (hub['head_ms'] as number));
  assert.equal(typeof ingress['duration_ms'], 'number');
});
