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
  WIRE_VERSION,
  ExtensionId,
  peekMessage,
  encodeRelayOpen,
  decodeRelayOpen,
  encodeLegacyRejection,
  upgradeAgentReason,
  WireVersionError,
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
  { type: 'request_head', request_id: 'i1-8', service: 'api', method: 'POST', path: '/caf\u00e9?q=\u{1f600}', headers: [['x-obs', 'caf\u00e9'], ['x-empty', ''], ['Host', 'app.example.com']], has_body: true },
  { type: 'hello_ok', hub_id: 'hub-2', epoch: 2 ** 48 - 1 },
  { type: 'response_head', status: 200, headers: [['content-type', 'text/plain']], extensions: [{ id: ExtensionId.originMicros, value: Buffer.from([0, 0, 1, 0]) }, { id: 200, value: Buffer.from('future field') }] },
];

test('every message round-trips', () => {
  for (const msg of samples) {
    const buf = encodeMessage(msg);
    const decoded = decodeMessage(buf);
    assert.ok(decoded, msg.type);
    assert.equal(decoded.bytes, buf.length);
    const { extensions, ...fields } = decoded.message;
    const { extensions: sent, ...sentFields } = msg;
    assert.deepEqual(fields, sentFields);
    assert.deepEqual(extensions?.map((e) => [e.id, Buffer.from(e.value).toString('hex')]), sent?.map((e) => [e.id, Buffer.from(e.value).toString('hex')]));
    assert.deepEqual(peekMessage(buf), { kind: msg.type, bytes: buf.length });
  }
});

test('heads are binary: no JSON, the documented field layout', () => {
  const buf = encodeMessage({ type: 'response_head', status: 204, headers: [['a', 'b']] });
  // [u32 length][u8 tag 5][u16 status][u16 count][u16 1]'a'[u16 1]'b'
  assert.equal(buf.toString('hex'), '0000000b' + '05' + '00cc' + '0001' + '0001' + '61' + '0001' + '62');
});

test('a message cut anywhere inside its fields, or an extension that overruns, is ERR_BAD_FRAME', () => {
  for (const msg of samples) {
    const whole = encodeMessage(msg);
    const fieldsEnd = whole.length;
    for (let cut = 5; cut < fieldsEnd; cut++) {
      // The same bytes, but the length prefix says the message ends at `cut`.
      const b = Buffer.from(whole.subarray(0, cut));
      b.writeUInt32BE(cut - 4, 0);
      let decoded: ReturnType<typeof decodeMessage>;
      try {
        decoded = decodeMessage(b);
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'ERR_BAD_FRAME', `${msg.type} cut at ${cut}`);
        continue;
      }
      // A cut that falls exactly between fields and extensions is a whole message without them.
      assert.ok(decoded && (decoded.message.extensions?.length ?? 0) < (msg.extensions?.length ?? 0), `${msg.type} cut at ${cut} decoded`);
    }
  }
});

test('byte flips of valid messages decode or fail with ERR_BAD_FRAME, nothing else', () => {
  let seed = 7;
  const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let round = 0; round < 3000; round++) {
    const b = Buffer.from(encodeMessage(samples[round % samples.length]!));
    for (let k = 0; k < 1 + (round % 3); k++) b[next() % b.length] = next() & 0xff;
    try {
      decodeMessage(b);
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'ERR_BAD_FRAME');
    }
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
    // hello with a client_id length past the end
    Buffer.from([0, 0, 0, 4, 1, 0, 9, 0x61]),
    // hello_ok without its epoch
    Buffer.from([0, 0, 0, 4, 2, 0, 1, 0x68]),
    // response_head with status 5
    Buffer.from([0, 0, 0, 5, 5, 0, 5, 0, 0]),
    // response_head with a header count of 1 and no header
    Buffer.from([0, 0, 0, 5, 5, 0, 200, 0, 1]),
    // response_head with an extension header cut short
    Buffer.from([0, 0, 0, 7, 5, 0, 200, 0, 0, 9, 0]),
    // ... and an extension longer than the message
    Buffer.from([0, 0, 0, 8, 5, 0, 200, 0, 0, 9, 0, 5]),
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
  assert.equal(decodePreface(encodePreface()), WIRE_VERSION);
  assert.equal(WIRE_VERSION, 2);
  assert.throws(() => decodePreface(encodePreface(1)), (err: unknown) => err instanceof WireVersionError && err.peerVersion === 1 && err.code === 'ERR_BAD_VERSION');
  assert.throws(() => decodePreface(encodePreface(3)), { code: 'ERR_BAD_VERSION' });
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
  assert.equal(await reader.readPreface(), WIRE_VERSION);
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

test('relay envelope: routing fields in front of the exact head bytes; anything else is ERR_BAD_FRAME', () => {
  const head = encodeMessage(samples[8]!);
  const open = encodeRelayOpen({ clientId: 'laptop', instanceId: 'laptop-1', route: 'app.example.com/', hasBody: true }, head);
  const { envelope, head: spliced } = decodeRelayOpen(open);
  assert.deepEqual(envelope, { clientId: 'laptop', instanceId: 'laptop-1', route: 'app.example.com/', hasBody: true });
  assert.ok(Buffer.from(spliced).equals(head), 'the head comes out as the same bytes');
  assert.deepEqual(decodeRelayOpen(encodeRelayOpen({ clientId: 'c', route: 'r/', hasBody: false }, head)).envelope, { clientId: 'c', route: 'r/', hasBody: false });
  for (let n = 0; n < open.length; n++) assert.throws(() => decodeRelayOpen(open.subarray(0, n)), { code: 'ERR_BAD_FRAME' }, `cut at ${n}`);
  // A head followed by extra bytes, or a message that is not a request head, is refused.
  assert.throws(() => decodeRelayOpen(Buffer.concat([open, Buffer.from('x')])), { code: 'ERR_BAD_FRAME' });
  assert.throws(() => decodeRelayOpen(encodeRelayOpen({ clientId: 'c', route: 'r/', hasBody: false }, encodeMessage(samples[5]!))), { code: 'ERR_BAD_FRAME' });
  for (let i = 0; i < 500; i++) {
    try {
      decodeRelayOpen(crypto.randomBytes(i % 64));
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'ERR_BAD_FRAME');
    }
  }
});

test('an agent of wire version 1 gets a version-1 hello_reject it can decode, saying to upgrade it', () => {
  const bytes = encodeLegacyRejection(upgradeAgentReason(1));
  // Version 1: preface "HOPG" 0x0001, then [u32 length][u8 tag 3][JSON {code, reason}].
  assert.equal(bytes.toString('latin1', 0, 4), 'HOPG');
  assert.equal(bytes.readUInt16BE(4), 1);
  const length = bytes.readUInt32BE(6);
  assert.equal(bytes.length, 10 + length);
  assert.equal(bytes[10], 3);
  const payload = JSON.parse(bytes.toString('utf8', 11)) as { code: string; reason: string };
  assert.equal(payload.code, 'ERR_BAD_VERSION');
  assert.match(payload.reason, /wire version 1, the hub speaks 2: upgrade the agent/);
});
