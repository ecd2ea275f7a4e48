/**
 * The hub is a splice (issue 12): it reads the routing envelope of a relay OPEN and passes the
 * request head down to the agent as the same bytes, and the agent's response head back up to the
 * ingress as the same bytes, whatever fields they carry. Here an "ingress" in the test process
 * (a RelayClient on the stack's NATS) sends heads with fields no part of HopGate knows (extension
 * ids 200-255); a raw agent session records what arrives and answers with its own unknown fields.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NatsSubjects } from '@hopgate/keys';
import { RelayClient, type RelayClientStream } from '@hopgate/relay';
import { Stack, waitFor } from '@hopgate/testkit';
import { encodeMessage, encodeRelayOpen, decodeMessage, type RequestHead } from '@hopgate/wire';
import { HostileAgent, sendThenEnd } from './hostile-agent.js';

const TEST_TIMEOUT_MS = 60_000;
/** Longest wait for one relayed answer, in ms. */
const ANSWER_TIMEOUT_MS = 10_000;
/** The response the agent sends: a head with fields of a future version, then a body. */
const RESPONSE_HEAD = encodeMessage({
  type: 'response_head',
  status: 200,
  headers: [['content-type', 'text/plain'], ['x-order', '2'], ['X-Order', '1'], ['x-obs', 'caf\u00e9']],
  extensions: [{ id: 201, value: Buffer.from('from a future agent') }, { id: 255, value: Buffer.alloc(0) }],
});
const RESPONSE_BODY = 'spliced\n';

let stack: Stack;
let agent: HostileAgent;
let nc: NatsConnection;
let relay: RelayClient;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-splice-'));
  stack = await Stack.start({ dir, hubs: 1 });
  const token = await stack.addClient('splice');
  agent = await HostileAgent.connect(stack, { clientId: 'splice', token, scripts: new Map(), fallback: sendThenEnd(RESPONSE_HEAD, Buffer.from(RESPONSE_BODY)) });
  nc = await connect({ servers: stack.nats.url });
  relay = new RelayClient({ nc, subjects: new NatsSubjects(), ingressId: 'splice-test' });
  await relay.start();
});

after(async () => {
  await relay?.close();
  await nc?.close();
  agent?.close();
  await stack?.stop();
});

/** Sends `head` behind an envelope for client "splice" and collects the response head and body. */
async function exchange(head: Buffer): Promise<{ responseHead: Buffer; body: string }> {
  const stream: RelayClientStream = relay.open(stack.hubs[0]!.id, encodeRelayOpen({ clientId: 'splice', route: 'splice.hopgate.test/', hasBody: false }, head));
  stream.end();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer in time')), ANSWER_TIMEOUT_MS);
    let responseHead: Buffer | undefined;
    const chunks: Buffer[] = [];
    stream.once('response', (bytes: Uint8Array) => (responseHead = Buffer.from(bytes)));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    stream.once('end', () => {
      clearTimeout(timer);
      if (!responseHead) reject(new Error('ended without a response head'));
      else resolve({ responseHead, body: Buffer.concat(chunks).toString() });
    });
  });
}

test('a request head with fields the hub does not know reaches the agent byte for byte; so does the response head on its way back', { timeout: TEST_TIMEOUT_MS }, async () => {
  const request: RequestHead = {
    type: 'request_head',
    request_id: 'splice-test-0001',
    service: 'web',
    method: 'PATCH',
    path: '/a%2Fb/caf\u00e9?x=1&x=2',
    headers: [['Host', 'splice.hopgate.test'], ['x-dup', 'b'], ['X-Dup', 'a'], ['x-empty', ''], ['x-obs', '\u00ff\u00fe'], ['x-raw', 'MARK']],
    has_body: false,
    extensions: [{ id: 200, value: Buffer.from([1, 2, 3, 0, 255]) }, { id: 250, value: Buffer.from('x'.repeat(1000)) }],
  };
  const head = encodeMessage(request);
  // Bytes that are not UTF-8 at all: a hub that decoded and re-encoded the head would turn them
  // into U+FFFD; a splice passes them on.
  head.set([0xff, 0xfe, 0xc0, 0x80], head.indexOf('MARK'));
  const { responseHead, body } = await exchange(head);
  await waitFor('the agent got the head', () => agent.rawHeads.length > 0, ANSWER_TIMEOUT_MS);
  const arrived = agent.rawHeads.at(-1)!;
  assert.equal(arrived.toString('hex'), head.toString('hex'), 'the request head arrived unchanged');
  assert.equal(responseHead.toString('hex'), RESPONSE_HEAD.toString('hex'), 'the response head came back unchanged');
  assert.equal(body, RESPONSE_BODY);
  // And the unknown fields decode on both ends as sent.
  const decoded = decodeMessage(arrived)!.message;
  assert.deepEqual(decoded.extensions?.map((e) => e.id), [200, 250]);
});

test('an envelope that is not followed by exactly one request head is rejected by the hub; the session keeps serving', { timeout: TEST_TIMEOUT_MS }, async () => {
  const good = encodeMessage({ type: 'request_head', request_id: 'splice-test-0002', service: 'web', method: 'GET', path: '/', headers: [], has_body: false });
  const before = agent.rawHeads.length;
  for (const bad of [Buffer.concat([good, Buffer.from('trailing')]), good.subarray(0, good.length - 1), encodeMessage({ type: 'response_head', status: 200, headers: [] })]) {
    await assert.rejects(exchange(bad), { code: 'ERR_BAD_FRAME' });
  }
  assert.equal(agent.rawHeads.length, before, 'nothing reached the agent');
  const { body } = await exchange(good);
  assert.equal(body, RESPONSE_BODY);
});
