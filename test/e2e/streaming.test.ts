/**
 * Streaming responses are not held back: each SSE event the origin writes reaches the
 * client before the origin writes the next one (the origin waits for the client to see
 * event N before it sends N+1, so any buffering on the path would deadlock this test).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import { Stack } from '@hopgate/testkit';

const HOST = 'sse.hopgate.test';
const EVENTS = 10;
let stack: Stack;
let origin: http.Server;
const seenByClient = new EventEmitter();

before(async () => {
  origin = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let n = 0;
    const send = (): void => {
      res.write(`id: ${n}\ndata: event ${n}\n\n`);
      n += 1;
      if (n === EVENTS) res.end();
    };
    // Next event only once the client reported the previous one.
    seenByClient.on('seen', () => {
      if (n < EVENTS) send();
    });
    send();
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-sse-'));
  stack = await Stack.start({ dir, hubs: 1 });
  const token = await stack.addClient('ssebox');
  await stack.setRoute(HOST, '/', 'ssebox/events');
  await stack.startAgent({ clientId: 'ssebox', token, services: { events: `127.0.0.1:${(origin.address() as AddressInfo).port}` } });
});

after(async () => {
  await stack?.stop();
  await new Promise<void>((r) => {
    origin?.close(() => r());
    origin?.closeAllConnections();
  });
});

test('SSE: every event reaches the client before the origin sends the next', { timeout: 30_000 }, async () => {
  const client = new Client(`https://127.0.0.1:${stack.httpsPort}`, {
    connect: { ca: fs.readFileSync(stack.ca.certFile, 'utf8'), servername: HOST },
  });
  const res = await client.request({ path: '/stream', method: 'GET', headers: { host: HOST, accept: 'text/event-stream' } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'text/event-stream');
  const received: string[] = [];
  let pending = '';
  for await (const chunk of res.body) {
    pending += (chunk as Buffer).toString();
    let end: number;
    while ((end = pending.indexOf('\n\n')) >= 0) {
      received.push(pending.slice(0, end));
      pending = pending.slice(end + 2);
      seenByClient.emit('seen');
    }
  }
  assert.deepEqual(received, Array.from({ length: EVENTS }, (_, i) => `id: ${i}\ndata: event ${i}`));
  await client.close();
});
