import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { waitFor } from '@hopgate/testkit';
import { ErrorCode } from '@hopgate/errors';
import {
  type ConnectionCloseError,
  MAX_RECEIVE_SEGMENTS_PER_CONNECTION,
  PACKET_FIRST_BYTE,
  TransportErrorCode,
} from '../src/index.js';
import { finishPacket, writePacketHeader } from '../src/packet-codec.js';
import { createPrng } from '../src/prng.js';
import { writeVarint } from '../src/varint.js';
import { connectPair, nextStream, type Pair, patternBytes, readAll, sha256, TEST_TIMEOUT_MS, writeAll } from '../test-support/helpers.js';

let pair: Pair | undefined;
afterEach(() => pair?.close());

/** A packet with a correct header (version byte, packet number, payload length) around `payload`. */
function packetWith(packetNumber: number, payload: number[]): Buffer {
  const buf = Buffer.alloc(32 + payload.length);
  const start = writePacketHeader(buf, packetNumber);
  buf.set(payload, start);
  finishPacket(buf, start, start + payload.length);
  return buf.subarray(0, start + payload.length);
}

function varint(value: number): number[] {
  const buf = new Uint8Array(8);
  return [...buf.subarray(0, writeVarint(buf, 0, value))];
}

test('random, truncated and malformed datagrams are dropped and counted; the connection keeps working', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ seed: 41 });
  const { client, server, clientLink, serverLink } = pair;
  const captured: Buffer[] = [];
  clientLink.onSend = (datagram) => {
    if (captured.length < 50) captured.push(Buffer.from(datagram));
  };
  // Some real traffic first, so that real packets can be truncated and replayed.
  const warmup = nextStream(server);
  const first = client.openStream();
  const firstSent = writeAll(first, patternBytes(200_000, 1));
  const firstReceived = readAll(await warmup);
  await firstSent;
  assert.equal((await firstReceived).length, 200_000);
  assert.ok(captured.length >= 20);

  const random = createPrng(99);
  const garbage: Buffer[] = [];
  // 1. Random datagrams of random sizes (0..1200 bytes), some starting with the right version byte.
  for (let i = 0; i < 300; i++) {
    const datagram = Buffer.alloc(Math.floor(random() * 1201));
    for (let j = 0; j < datagram.length; j++) datagram[j] = Math.floor(random() * 256);
    if (i % 3 === 0 && datagram.length > 0) datagram[0] = PACKET_FIRST_BYTE;
    garbage.push(datagram);
  }
  // 2. Real packets cut short at every kind of position.
  for (const packet of captured) {
    if (packet.length < 8) continue;
    garbage.push(packet.subarray(0, 1 + Math.floor(random() * (packet.length - 1))));
    garbage.push(packet.subarray(0, packet.length - 1));
  }
  // 3. Valid headers around broken frames.
  const pn = 1_000_000;
  garbage.push(
    packetWith(pn, [0x0a, ...varint(0), ...varint(500), 1, 2, 3]), // STREAM claims 500 bytes, has 3
    packetWith(pn, [0x21]), // unknown frame type
    packetWith(pn, [0x02, ...varint(5), 0, ...varint(0), ...varint(9)]), // ACK range below packet 0
    packetWith(pn, [0x02, ...varint(5), 0, ...varint(100), ...varint(0)]), // ACK claims 100 ranges
    packetWith(pn, [0x1c, 0, ...varint(50), 0x41]), // CONNECTION_CLOSE reason runs past the end
    packetWith(pn, [0x12, 0xc0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // MAX_STREAMS above 2^60
    packetWith(pn, [0x01, 0x04, ...varint(0)]), // PING, then a truncated RESET_STREAM
    packetWith(pn, []), // no frame at all
    packetWith(pn, [0x00, 0x00, 0x00]), // only padding
    Buffer.from([PACKET_FIRST_BYTE, ...varint(pn), 0x40, 0x09, 0x01]), // payload length says 9, has 1
    Buffer.from([0x21, ...varint(pn), 0x40, 0x01, 0x01]), // unknown version
    Buffer.alloc(0),
  );
  const before = server.stats();
  for (const datagram of garbage) serverLink.inject(datagram);
  const after = server.stats();
  assert.equal(after.garbageDropped - before.garbageDropped, garbage.length);
  assert.equal(after.packetsReceived, before.packetsReceived, 'no garbage was taken for a packet');
  assert.equal(server.closed, false);

  // A real packet replayed is a duplicate, dropped and counted as such.
  serverLink.inject(captured[captured.length - 1] as Buffer);
  assert.equal(server.stats().duplicatesDropped, before.duplicatesDropped + 1);

  // The connection still carries data both ways.
  const incoming = nextStream(server);
  const stream = client.openStream();
  const data = patternBytes(1024 * 1024, 2);
  const sent = writeAll(stream, data);
  const serverStream = await incoming;
  const [received] = await Promise.all([readAll(serverStream), sent]);
  assert.equal(received.sha256, sha256(data));
  serverStream.end('ok');
  const reply = await readAll(stream);
  assert.equal(reply.length, 2);
  first.resume();
  (await warmup).end();
  await waitFor('streams freed', () => (client.streamCount === 0 && server.streamCount === 0) || undefined);
  assert.equal(client.closed || server.closed, false);
});

test('a peer fragmenting data into tiny out-of-order pieces is closed with PROTOCOL_VIOLATION', { timeout: TEST_TIMEOUT_MS }, async () => {
  pair = connectPair({ seed: 42 });
  const { client, server, serverLink } = pair;
  await waitFor('parameters exchanged', () => client.stats().peerMaxStreams > 0 || undefined);
  const closed = new Promise<ConnectionCloseError>((resolve) => server.once('close', resolve));
  server.on('stream', (s) => s.on('error', () => undefined));
  client.on('stream', (s) => s.on('error', () => undefined));
  // One-byte STREAM frames on stream 0 at offsets 2, 4, 6, ...: every one a separate gap.
  let offset = 2;
  for (let pn = 1_000_000; offset < 2 * (MAX_RECEIVE_SEGMENTS_PER_CONNECTION + 10) && !server.closed; pn++) {
    const frames: number[] = [];
    while (frames.length < 1100) {
      frames.push(0x0e, 0x00, ...varint(offset), 0x01, 0x61);
      offset += 2;
    }
    serverLink.inject(packetWith(pn, frames));
  }
  const err = await closed;
  assert.equal(err.code, ErrorCode.Protocol);
  assert.equal(err.closeCode, TransportErrorCode.ProtocolViolation);
});
