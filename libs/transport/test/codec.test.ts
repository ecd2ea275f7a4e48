import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeFrame, frameSize, writeFrame } from '../src/frame-codec.js';
import { type Frame, FrameType } from '../src/frames.js';
import { decodePacket, finishPacket, writePacketHeader } from '../src/packet-codec.js';
import { ByteReader, VARINT_MAX, varintSize, writeVarint } from '../src/varint.js';

test('varints round-trip at every length boundary (RFC 9000 §16)', () => {
  const values = [0, 37, 63, 64, 15_293, 16_383, 16_384, 494_878_333, 2 ** 30 - 1, 2 ** 30, 2 ** 52 + 12_345, VARINT_MAX];
  const buf = Buffer.alloc(8 * values.length);
  let pos = 0;
  for (const value of values) pos = writeVarint(buf, pos, value);
  const reader = new ByteReader(buf, 0, pos);
  for (const value of values) assert.equal(reader.varint(), value);
  assert.equal(reader.failed, false);
  assert.equal(reader.remaining, 0);
  // The examples of RFC 9000 §A.1 (the 8-byte one exceeds 2^53 - 1: see the next test).
  assert.equal(new ByteReader(Buffer.from('9d7f3e7d', 'hex')).varint(), 494_878_333);
  assert.equal(new ByteReader(Buffer.from('7bbd', 'hex')).varint(), 15_293);
  assert.equal(new ByteReader(Buffer.from('25', 'hex')).varint(), 37);
  assert.deepEqual([1, 2, 4, 8].map((n) => varintSize(2 ** (8 * n - 2) - 1)), [1, 2, 4, 8]);
});

test('a varint past the end, or above 2^53 - 1, fails without throwing', () => {
  const truncated = new ByteReader(Buffer.from([0x80, 0x01]));
  assert.equal(truncated.varint(), 0);
  assert.equal(truncated.failed, true);
  // RFC 9000 §A.1's 8-byte example, 151,288,809,941,952,652, is beyond exact JS numbers.
  const huge = new ByteReader(Buffer.from('c2197c5eff14e88c', 'hex'));
  huge.varint();
  assert.equal(huge.failed, true);
  const empty = new ByteReader(Buffer.alloc(0));
  empty.byte();
  assert.equal(empty.failed, true);
});

const FRAMES: Frame[] = [
  { type: FrameType.Ping },
  { type: FrameType.ImmediateAck },
  { type: FrameType.Ack, largestAcknowledged: 1000, ackDelayUs: 1234, ranges: [1000, 990, 980, 900, 10, 0] },
  { type: FrameType.Ack, largestAcknowledged: 0, ackDelayUs: 0, ranges: [0, 0] },
  { type: FrameType.ResetStream, streamId: 4, errorCode: 42, finalSize: 123_456 },
  { type: FrameType.StopSending, streamId: 2 ** 40 + 1, errorCode: 7 },
  { type: FrameType.Stream, streamId: 8, offset: 0, data: Buffer.from('hello'), fin: false },
  { type: FrameType.Stream, streamId: 9, offset: 70_000, data: Buffer.alloc(0), fin: true },
  { type: FrameType.MaxData, maximumData: 2 ** 33 },
  { type: FrameType.MaxStreamData, streamId: 5, maximumStreamData: 65_536 },
  { type: FrameType.MaxStreams, maximumStreams: 1024 },
  { type: FrameType.DataBlocked, maximumData: 10 },
  { type: FrameType.StreamDataBlocked, streamId: 1, maximumStreamData: 11 },
  { type: FrameType.ConnectionClose, errorCode: 0x100, reason: 'idle' },
  { type: FrameType.ApplicationClose, errorCode: 7, reason: 'bye ✓' },
  { type: FrameType.TransportParameters, initialMaxData: 1 << 20, initialMaxStreamData: 1 << 18, initialMaxStreams: 1024 },
];

test('every frame type round-trips through the codec, with its declared size (RFC 9000 §19)', () => {
  for (const frame of FRAMES) {
    const buf = Buffer.alloc(frameSize(frame));
    assert.equal(writeFrame(buf, 0, frame), buf.length, `size of frame 0x${frame.type.toString(16)}`);
    const reader = new ByteReader(buf);
    const decoded = decodeFrame(reader);
    assert.deepEqual(decoded, frame);
    assert.equal(reader.remaining, 0);
  }
});

test('a packet round-trips; any truncation, extension or wrong version byte is rejected', () => {
  const buf = Buffer.alloc(1200);
  const start = writePacketHeader(buf, 77_777);
  let pos = start;
  for (const frame of FRAMES) pos = writeFrame(buf, pos, frame);
  finishPacket(buf, start, pos);
  const packet = buf.subarray(0, pos);
  const reader = new ByteReader(new Uint8Array(0));
  const frames: Frame[] = [];
  assert.equal(decodePacket(packet, reader, frames), 77_777);
  assert.deepEqual(frames, FRAMES);
  for (let cut = 0; cut < packet.length; cut++) {
    assert.equal(decodePacket(packet.subarray(0, cut), reader, frames), -1, `truncated at ${cut}`);
  }
  assert.equal(decodePacket(Buffer.concat([packet, Buffer.from([0x01])]), reader, frames), -1);
  const wrongVersion = Buffer.from(packet);
  wrongVersion[0] = 0x21;
  assert.equal(decodePacket(wrongVersion, reader, frames), -1);
});
