import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, test } from 'node:test';
import { waitFor } from '@hopgate/testkit';
import { connectPair, nextStream, type Pair, TEST_TIMEOUT_MS } from '../test-support/helpers.js';

let pair: Pair | undefined;
afterEach(() => pair?.close());

test('half close: the request ends, the response keeps streaming, then ends; both sides see end', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ lossRate: 0.02, delayMs: 2, seed: 31 });
  const { client, server } = pair;
  const incoming = nextStream(server);
  const stream = client.openStream();
  stream.end('GET / HTTP/1.1\r\n\r\n');
  const serverStream = await incoming;

  const request: Buffer[] = [];
  serverStream.on('data', (chunk: Buffer) => request.push(chunk));
  await once(serverStream, 'end');
  assert.equal(Buffer.concat(request).toString(), 'GET / HTTP/1.1\r\n\r\n');
  // Our direction is closed, the server's is not: the client still receives.
  await waitFor('client FIN acknowledged', () => stream.writableFinished || undefined);
  assert.equal(stream.readableEnded, false);

  const response: Buffer[] = [];
  let clientEnded = false;
  stream.on('data', (chunk: Buffer) => response.push(chunk));
  stream.on('end', () => (clientEnded = true));
  for (let i = 0; i < 5; i++) {
    serverStream.write(`part ${i};`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(clientEnded, false);
  serverStream.end('done');
  await once(stream, 'end');
  assert.equal(Buffer.concat(response).toString(), 'part 0;part 1;part 2;part 3;part 4;done');
  await waitFor('both ends freed the stream', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
  await waitFor('both Duplexes closed', () => (stream.closed && serverStream.closed) || undefined);
});

test('a stream ended with no data at all delivers just the end', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ seed: 32 });
  const { client, server } = pair;
  const incoming = nextStream(server);
  const stream = client.openStream();
  stream.end();
  const serverStream = await incoming;
  let bytes = 0;
  serverStream.on('data', (chunk: Buffer) => (bytes += chunk.length));
  await once(serverStream, 'end');
  assert.equal(bytes, 0);
  serverStream.end();
  stream.resume();
  await once(stream, 'end');
  await waitFor('freed', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
});
