/**
 * WebSocket through the tunnel with a real `ws` client and server: text and binary both
 * ways, ping/pong, close code and reason, many sockets over one agent; other Upgrades refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { Stack, waitFor } from '@hopgate/testkit';

const HOST = 'ws.hopgate.test';
let stack: Stack;
let wss: WebSocketServer;
let wssPort: number;
const serverSawClose: Array<{ code: number; reason: string }> = [];

before(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wssPort = (wss.address() as AddressInfo).port;
  wss.on('connection', (ws, req) => {
    ws.send(`hello ${req.headers.host} ${req.url}`);
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === 'close-me') ws.close(4001, 'asked to close');
      else ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code, reason) => serverSawClose.push({ code, reason: reason.toString() }));
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-ws-'));
  stack = await Stack.start({ dir, hubs: 1 });
  const token = await stack.addClient('wsbox');
  await stack.setRoute(HOST, '/', 'wsbox/chat');
  await stack.startAgent({ clientId: 'wsbox', token, services: { chat: `127.0.0.1:${wssPort}` } });
});

after(async () => {
  await stack?.stop();
  await new Promise<void>((r) => wss?.close(() => r()));
});

function connect(pathname = '/chat'): WebSocket {
  const options: ClientOptions & tls.ConnectionOptions = {
    headers: { host: HOST },
    servername: HOST,
    ca: fs.readFileSync(stack.ca.certFile),
  };
  return new WebSocket(`wss://127.0.0.1:${stack.httpsPort}${pathname}`, options);
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary }));
    ws.once('error', reject);
  });
}

test('text and binary both ways, ping/pong, close code and reason passed on', async () => {
  const ws = connect('/chat?room=1');
  const greeting = await nextMessage(ws);
  assert.equal(greeting.data.toString(), `hello ${HOST} /chat?room=1`);
  ws.send('text message');
  const text = await nextMessage(ws);
  assert.equal(text.isBinary, false);
  assert.equal(text.data.toString(), 'text message');
  const blob = crypto.randomBytes(200_000);
  ws.send(blob);
  const bin = await nextMessage(ws);
  assert.equal(bin.isBinary, true);
  assert.ok(bin.data.equals(blob));
  const pong = new Promise<Buffer>((r) => ws.once('pong', r));
  ws.ping('are you there');
  assert.equal((await pong).toString(), 'are you there');
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.send('close-me');
  assert.deepEqual(await closed, { code: 4001, reason: 'asked to close' });
});

test('a close from the client reaches the server with its code', async () => {
  const ws = connect();
  await nextMessage(ws);
  const before = serverSawClose.length;
  ws.close(4002, 'bye from client');
  await new Promise<void>((r) => ws.once('close', () => r()));
  await waitFor('server saw the close', () => serverSawClose.length > before, 5000);
  assert.deepEqual(serverSawClose.at(-1), { code: 4002, reason: 'bye from client' });
});

test('100 concurrent sockets over one agent', async () => {
  const sockets = Array.from({ length: 100 }, () => connect());
  await Promise.all(sockets.map((ws) => nextMessage(ws)));
  const replies = await Promise.all(
    sockets.map(async (ws, i) => {
      const reply = nextMessage(ws);
      ws.send(`msg ${i}`);
      return (await reply).data.toString();
    }),
  );
  assert.deepEqual(replies, sockets.map((_, i) => `msg ${i}`));
  await Promise.all(sockets.map((ws) => new Promise<void>((r) => { ws.once('close', () => r()); ws.close(1000); })));
});

test('other Upgrades get a clear 501', async () => {
  const answer = await new Promise<string>((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port: stack.httpsPort, servername: HOST, ca: fs.readFileSync(stack.ca.certFile) }, () => {
      sock.write(`GET / HTTP/1.1\r\nhost: ${HOST}\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n`);
    });
    let got = '';
    sock.on('data', (d) => (got += d));
    sock.on('end', () => resolve(got));
    sock.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 501 /);
  assert.match(answer, /not supported/);
});
