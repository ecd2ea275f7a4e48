/**
 * Killing processes in the middle of traffic: a hub or an agent dies (SIGKILL) while a
 * response is streaming; the browser's request must fail promptly (not hang), and service
 * must come back when the process does.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'undici';
import { Stack, waitFor, type ManagedProcess } from '@hopgate/testkit';
import { startOrigin, PublicClient, assertPublicError, waitForIngressReason, type Origin } from './helpers.js';

const HOST = 'fail.hopgate.test';
let stack: Stack;
let origin: Origin;
let pub: PublicClient;
let token: string;
let agent: ManagedProcess;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-failover-'));
  stack = await Stack.start({ dir, hubs: 1, ingressEnv: { HOPGATE_RESPONSE_TIMEOUT_MS: '20000' } });
  origin = await startOrigin('failover');
  token = await stack.addClient('edgebox');
  await stack.setRoute(HOST, '/', 'edgebox/web');
  agent = await stack.startAgent({ clientId: 'edgebox', token, services: { web: origin.address } });
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await stack?.stop();
  await origin?.close();
});

/** How long a broken response may take to be noticed before we call it a hang, in ms. */
const BREAK_DEADLINE_MS = 20_000;

function deadline(ms: number): Promise<string> {
  return new Promise((resolve) => setTimeout(() => resolve('hung'), ms).unref());
}

/** Starts GET /slow and resolves once its head and first chunk arrived; `ended` settles when the body ends or breaks. */
async function startSlowDownload(): Promise<{ client: Client; ended: Promise<string> }> {
  const client = new Client(`https://127.0.0.1:${stack.httpsPort}`, {
    connect: { ca: fs.readFileSync(stack.ca.certFile, 'utf8'), servername: HOST },
  });
  const res = await client.request({ path: '/slow', method: 'GET', headers: { host: HOST } });
  assert.equal(res.statusCode, 200);
  const first = await new Promise<string>((resolve) => res.body.once('data', (c: Buffer) => resolve(c.toString())));
  assert.equal(first, 'first chunk\n');
  const ended = new Promise<string>((resolve) => {
    res.body.on('data', () => undefined);
    res.body.once('end', () => resolve('ended'));
    res.body.once('error', (err: Error & { code?: string }) => resolve(`error:${err.code ?? err.message}`));
  });
  return { client, ended };
}

test('the browser leaving cancels the request on every hop: the origin sees its request closed', async () => {
  const before = origin.slowClosed();
  const { client } = await startSlowDownload();
  await client.destroy();
  await waitFor('origin saw the cancel', () => origin.slowClosed() > before, 5_000, 20);
});

test('the browser leaving before the origin answered cancels the local request: the origin sees it closed', async () => {
  const before = origin.hangClosed();
  const seenBefore = origin.seen.filter((r) => r.url === '/hang').length;
  const client = new Client(`https://127.0.0.1:${stack.httpsPort}`, {
    connect: { ca: fs.readFileSync(stack.ca.certFile, 'utf8'), servername: HOST },
  });
  const pending = client.request({ path: '/hang', method: 'GET', headers: { host: HOST } }).catch(() => 'cut');
  await waitFor('origin got /hang', () => origin.seen.filter((r) => r.url === '/hang').length > seenBefore, 5_000, 20);
  await client.destroy();
  assert.equal(await pending, 'cut');
  await waitFor('origin saw the cancel', () => origin.hangClosed() > before, 5_000, 20);
});

test('HEAD carries no body through the tunnel', async () => {
  const head = await pub.request(HOST, '/hello', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
});

test('agent killed mid-response: the browser request breaks promptly, then a new agent serves again', async () => {
  const { client, ended } = await startSlowDownload();
  await agent.kill();
  const outcome = await Promise.race([ended, deadline(BREAK_DEADLINE_MS)]);
  assert.match(outcome, /^error:/, 'the response must break, not end cleanly or hang');
  await client.destroy();
  await waitFor('502 while offline', async () => (await pub.request(HOST, '/hello')).status === 502, 10_000, 100);
  agent = await stack.startAgent({ clientId: 'edgebox', token, services: { web: origin.address } });
  await waitFor('served again', async () => (await pub.request(HOST, '/hello')).status === 200, 10_000, 50);
});

test('hub killed mid-response: the browser request breaks promptly; after the hub restarts the agent reconnects', async () => {
  const { client, ended } = await startSlowDownload();
  await stack.hubs[0]!.process.kill();
  const outcome = await Promise.race([ended, deadline(BREAK_DEADLINE_MS)]);
  assert.match(outcome, /^error:/, 'the response must break, not end cleanly or hang');
  await client.destroy();
  const offline = await pub.request(HOST, '/hello');
  assert.equal(offline.status, 502);
  await stack.startHub(0);
  await agent.waitForLog('reconnected', (r) => r.msg === 'online: session established', 20_000, agent.records.findLastIndex((r) => r.msg === 'online: session established') + 1);
  await waitFor('served again', async () => (await pub.request(HOST, '/hello')).status === 200, 10_000, 50);
});

test('NATS down: requests get 503 with Retry-After at once; NATS back on its port: served again', async () => {
  assert.equal((await pub.request(HOST, '/hello')).status, 200);
  await stack.killNats();
  const res = await waitFor('503 while NATS is down', async () => {
    const r = await pub.request(HOST, '/hello');
    return r.status === 503 ? r : undefined;
  }, 10_000, 50);
  assert.equal(res.headers['retry-after'], '1');
  const id = assertPublicError(res.body.toString(), 'ERR_UNAVAILABLE', res.headers['x-hopgate-request-id'] as string);
  await waitForIngressReason(stack, id, /NATS/);
  await stack.restartNats();
  await waitFor('served again after NATS restart', async () => (await pub.request(HOST, '/hello')).status === 200, 20_000, 100);
});
