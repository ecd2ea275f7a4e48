import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import crypto from 'node:crypto';
import {
  encodeMessage,
  decodeMessage,
  encodePreface,
  decodePreface,
  MessageStreamReader,
  MAX_MESSAGE_BYTES,
  type WireMessage,
} from '../src/index.js';

const samples: WireMessage[] = [
  { type: 'hello', client_id: 'laptop', token: 't', agent_version: '0.1.0', services: ['web', 'api'] },
  { type: 'hello', client_id: 'laptop', token: 't', agent_version: '0.2.0', services: ['web'], instance_id: 'laptop-0a1b2c' },
  { type: 'hello_ok', hub_id: 'hub-1', epoch: 42 },
  { type: 'hello_reject', code: 'ERR_AUTH_FAILED', reason: 'bad token' },
  { type: 'request_head', request_id: 'i1-7', service: 'web', method: 'GET', path: '/a%2Fb?x=1&y', headers: [['set-cookie', 'a'], ['set-cookie', 'b']], has_body: false },
  { type: 'response_head', status: 204, headers: [] },
  { type: 'stream_error', code: 'ERR_ORIGIN_UNREACHABLE', message: 'ECONNREFUSED' },
  { type: 'go_away', code: 'ERR_SESSION_REPLACED', reason: 'newer session' },
];

test('every message round-trips', () => {
  for (const msg of samples) {
    const buf = encodeMessage(msg);
    const decoded = decodeMessage(buf);
    assert.ok(decoded, msg.type);
    assert.equal(decoded.bytes, buf.length);
    assert.deepEqual(decoded.message, msg);
  }
});

test('truncated input is "not yet", never a wrong message', () => {
  const buf = encodeMessage(samples[3]!);
  for (let n = 0; n < buf.length; n++) assert.equal(decodeMessage(buf.subarray(0, n)), undefined);
});

test('garbage is rejected with ERR_BAD_FRAME', () => {
  const bad = [
    Buffer.from([0, 0, 0, 0]),
    Buffer.from([0xff, 0xff, 0xff, 0xff, 1]),
    Buffer.from([0, 0, 0, 2, 99, 0x7b]),
    Buffer.concat([Buffer.from([0, 0, 0, 4, 1]), Buffer.from('{x}')]),
    Buffer.concat([Buffer.from([0, 0, 0, 3, 2]), Buffer.from('[]')]),
    (() => { const p = Buffer.from('{"status":5,"headers":[]}'); const b = Buffer.alloc(5); b.writeUInt32BE(p.length + 1); b[4] = 5; return Buffer.concat([b, p]); })(),
    (() => { const p = Buffer.from('{"status":200,"headers":[["a"]]}'); const b = Buffer.alloc(5); b.writeUInt32BE(p.length + 1); b[4] = 5; return Buffer.concat([b, p]); })(),
  ];
  for (const b of bad) assert.throws(() => decodeMessage(b), { code: 'ERR_BAD_FRAME' }, b.toString('hex'));
  for (let i = 0; i < 200; i++) {
    const junk = crypto.randomBytes(1 + (i % 40));
    try {
      decodeMessage(junk);
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'ERR_BAD_FRAME');
    }
  }
  assert.throws(() => encodeMessage({ type: 'stream_error', code: 'ERR_INTERNAL', message: 'x'.repeat(MAX_MESSAGE_BYTES) }), { code: 'ERR_BAD_FRAME' });
});

test('preface: magic and version are checked', () => {
  assert.equal(decodePreface(encodePreface()), 1);
  assert.throws(() => decodePreface(encodePreface(2)), { code: 'ERR_BAD_VERSION' });
  assert.throws(() => decodePreface(Buffer.from('GET / ')), { code: 'ERR_BAD_VERSION' });
  assert.throws(() => decodePreface(Buffer.from('HOP')), { code: 'ERR_BAD_FRAME' });
});

test('stream reader: head message then raw body, split at every byte', async () => {
  const head = encodeMessage(samples[3]!);
  const body = crypto.randomBytes(5000);
  const all = Buffer.concat([encodePreface(), head, body]);
  const stream = new PassThrough();
  const reader = new MessageStreamReader(stream);
  (async () => {
    for (let i = 0; i < all.length; i += 7) {
      stream.write(all.subarray(i, i + 7));
      await new Promise((r) => setImmediate(r));
    }
    stream.end();
  })();
  assert.equal(await reader.readPreface(), 1);
  assert.deepEqual(await reader.readMessage(), samples[3]);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  assert.ok(Buffer.concat(chunks).equals(body));
});

test('stream reader: a stream that ends early is an error, not a hang', async () => {
  const stream = new PassThrough();
  const reader = new MessageStreamReader(stream);
  stream.end(encodeMessage(samples[0]!).subarray(0, 10));
  await assert.rejects(reader.readMessage(), { code: 'ERR_CLOSED' });
});

test('stream reader: head, body and end arriving in one chunk keep the body', async () => {
  const head = encodeMessage(samples[4]!);
  const stream = new PassThrough();
  stream.end(Buffer.concat([head, Buffer.from('hello from web\n')]));
  const reader = new MessageStreamReader(stream);
  assert.deepEqual(await reader.readMessage(), samples[4]);
  // Consume later, in another tick, the way a pipeline would.
  await new Promise((r) => setImmediate(r));
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  await new Promise((r) => stream.once('end', r));
  assert.equal(Buffer.concat(chunks).toString(), 'hello from web\n');
});
