import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Msg } from '@nats-io/transport-node';
import { NATS_PENDING_LIMIT_BYTES } from '../src/index.js';
import { NatsFixture, KIB } from './helpers.js';

/**
 * The relay's two patches to nats.js (patches/@nats-io+*.patch) that cut a copy per message on the
 * bulk path: publishes leave in one writev of the buffers as given (no DataBuffer.pack), and a
 * message that spans socket reads is gathered into one buffer of its size.
 */

const TEST_TIMEOUT_MS = 30_000;

const nats = new NatsFixture();
before(() => nats.start());
after(() => nats.stop());

function pattern(bytes: number, salt: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 1) out[i] = (i * 31 + salt + (i >> 12)) & 0xff;
  return out;
}

test('messages published in one turn leave in one writev of the buffers as given, and arrive whole and in order', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pub = await nats.connect();
  const sub = await nats.connect();
  const subject = `natspatch.${process.pid}.writev`;
  const sizes = [10, 40 * KIB, 3, 100 * KIB, 1];
  const sent = sizes.map((n, i) => pattern(n, i));
  const got: Uint8Array[] = [];
  const done = new Promise<void>((resolve) => {
    sub.subscribe(subject, {
      callback: (_err, msg: Msg) => {
        got.push(msg.data);
        if (got.length === sent.length) resolve();
      },
    });
  });
  await sub.flush();
  const transport = (pub as unknown as { protocol: { transport: { sendv?: (frames: Uint8Array[]) => void } } }).protocol.transport;
  assert.equal(typeof transport.sendv, 'function', 'the node transport has sendv (patch applied)');
  const writes: Uint8Array[][] = [];
  const sendv = transport.sendv!.bind(transport);
  transport.sendv = (frames) => {
    writes.push([...frames]);
    sendv(frames);
  };
  for (const payload of sent) pub.publish(subject, payload);
  await done;
  assert.deepEqual(
    got.map((d) => Buffer.from(d).toString('hex')),
    sent.map((d) => d.toString('hex')),
  );
  // The payloads went to the socket as the very buffers published (no copy into one).
  const written = writes.flat();
  for (const payload of sent) assert.ok(written.includes(payload), `payload of ${payload.length} bytes written as given`);
});

test('a message spanning several socket reads arrives whole, in one buffer of its size', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pub = await nats.connect();
  const sub = await nats.connect();
  const subject = `natspatch.${process.pid}.split`;
  const size = 900 * KIB; // well past one 64 KiB socket read
  const payload = pattern(size, 5);
  const received = new Promise<Uint8Array>((resolve) => {
    sub.subscribe(subject, { max: 1, callback: (_err, msg: Msg) => resolve(msg.data) });
  });
  await sub.flush();
  pub.publish(subject, payload);
  const data = await received;
  assert.ok(Buffer.from(data).equals(payload), 'payload intact');
  // Unpatched, the buffer grew by doubling as reads came in (and copied what it held each time).
  assert.equal(data.buffer.byteLength, size);
});

/** How many socket writes (sendv calls) four 40 KiB publishes of one turn take. */
async function writesForOneTurn(extra: Record<string, unknown>): Promise<number> {
  const pub = await nats.connect(extra);
  const sub = await nats.connect();
  const subject = `natspatch.${process.pid}.pending.${String(extra['pendingLimit'] ?? 'default')}`;
  const count = 4;
  let got = 0;
  const done = new Promise<void>((resolve) => {
    sub.subscribe(subject, {
      callback: () => {
        got += 1;
        if (got === count) resolve();
      },
    });
  });
  await sub.flush();
  const transport = (pub as unknown as { protocol: { transport: { sendv: (frames: Uint8Array[]) => void } } }).protocol.transport;
  let writes = 0;
  const sendv = transport.sendv.bind(transport);
  transport.sendv = (frames) => {
    writes += 1;
    sendv(frames);
  };
  for (let i = 0; i < count; i += 1) pub.publish(subject, pattern(40 * KIB, i));
  await done;
  return writes;
}

test('with the relay nodes\' pendingLimit, one turn\'s bulk messages leave in one write (nats.js default: several)', { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.equal(await writesForOneTurn({ pendingLimit: NATS_PENDING_LIMIT_BYTES }), 1);
  assert.ok((await writesForOneTurn({})) > 1);
});
