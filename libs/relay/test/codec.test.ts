import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, HopError } from '@hopgate/errors';
import {
  decodeFrame,
  decodeFrames,
  encodeFrame,
  encodeFrames,
  FrameType,
  FRAME_FIXED_HEADER_BYTES,
  MESSAGE_HEADER_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_HEAD_BYTES,
  MAX_INSTANCE_ID_BYTES,
  RELAY_VERSION,
  type Frame,
} from '../src/index.js';

const bytes = (s: string): Uint8Array => Buffer.from(s, 'utf8');

const samples: Frame[] = [
  { type: FrameType.Open, streamId: 'ing-1-abcd-1', seq: 0, windowBytes: 983_040, replyTo: 'hopgate.ingress.ing-1', head: bytes('GET / HTTP/1.1'), fin: false },
  { type: FrameType.Open, streamId: 's', seq: 0, windowBytes: 1, replyTo: 'x', head: new Uint8Array(0), fin: true },
  { type: FrameType.Accept, streamId: 'ing-1-abcd-1', seq: 0, creditBytes: 0xffff_ffff },
  { type: FrameType.Reject, streamId: 'ing-1-abcd-1', seq: 0, code: ErrorCode.UnknownService, message: 'no service "db" — sorry' },
  { type: FrameType.Data, streamId: 'ing-1-abcd-1', seq: 7, payload: Buffer.alloc(60 * 1024, 0xab) },
  { type: FrameType.Data, streamId: 'ing-1-abcd-1', seq: 0xffff_ffff, payload: new Uint8Array(0) },
  { type: FrameType.End, streamId: 'ing-1-abcd-1', seq: 3 },
  { type: FrameType.Credit, streamId: 'ing-1-abcd-1', seq: 4, creditBytes: 245_760 },
  { type: FrameType.Response, streamId: 'ing-1-abcd-1', seq: 1, head: bytes('HTTP/1.1 200 OK') },
  { type: FrameType.Reset, streamId: 'ing-1-abcd-1', seq: 12, code: ErrorCode.StreamReset, message: '' },
  { type: FrameType.Ping, streamId: 'ing-1', seq: 1 },
  { type: FrameType.Pong, streamId: 'ing-1', seq: 0xffff_ffff, instance: '0123456789abcdef' },
];

/** The frame with byte fields as hex, so that Buffer and Uint8Array compare equal. */
function plain(frame: Frame): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(frame).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v]),
  );
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HopError, `threw a non-HopError: ${String(err)}`);
    return err.code;
  }
  return undefined;
}

test('every frame type round-trips', () => {
  for (const frame of samples) assert.deepEqual(plain(decodeFrame(encodeFrame(frame))), plain(frame), `type ${frame.type}`);
});

test('the layout is magic "HR" and version once per message, then type, seq, id, body length, body per frame', () => {
  const encoded = Buffer.from(encodeFrame({ type: FrameType.End, streamId: 'ab', seq: 258 }));
  assert.equal(encoded.toString('hex'), '4852' + '02' + '05' + '00000102' + '02' + '6162' + '00000000');
  assert.equal(encoded.length, MESSAGE_HEADER_BYTES + FRAME_FIXED_HEADER_BYTES + 2);
  const open = Buffer.from(encodeFrame({ type: FrameType.Open, streamId: 'a', seq: 0, windowBytes: 16, replyTo: 'r', head: bytes('h'), fin: true }));
  assert.equal(open.subarray(MESSAGE_HEADER_BYTES + FRAME_FIXED_HEADER_BYTES + 1).toString('hex'), '00000010' + '01' + '01' + '72' + '68');
});

test('a message carries several frames, in order; decodeFrame wants exactly one', () => {
  const encoded = encodeFrames(samples);
  assert.deepEqual(decodeFrames(encoded).map(plain), samples.map(plain));
  assert.equal(codeOf(() => decodeFrame(encoded)), ErrorCode.BadFrame);
  assert.equal(codeOf(() => encodeFrames([])), ErrorCode.BadFrame);
  // A message with nothing after the header is garbage, not an empty batch.
  assert.equal(codeOf(() => decodeFrames(encoded.subarray(0, MESSAGE_HEADER_BYTES))), ErrorCode.BadFrame);
});

test('every truncation of every frame is rejected with ERR_BAD_FRAME, never a partial frame', () => {
  for (const frame of samples) {
    const encoded = encodeFrame(frame);
    for (let length = 0; length < encoded.length; length += 1) {
      assert.equal(codeOf(() => decodeFrames(encoded.subarray(0, length))), ErrorCode.BadFrame, `type ${frame.type} cut at ${length}`);
    }
  }
  // In a message of several frames too: a cut anywhere but between frames fails the whole message.
  const two = encodeFrames([samples[4]!, samples[6]!]);
  const firstEnd = encodeFrame(samples[4]!).length;
  for (let length = MESSAGE_HEADER_BYTES + 1; length < two.length; length += 97) {
    if (length === firstEnd) continue;
    assert.equal(codeOf(() => decodeFrames(two.subarray(0, length))), ErrorCode.BadFrame, `cut at ${length}`);
  }
});

test('a body length that disagrees with the type, and unknown OPEN flags, are rejected', () => {
  const credit = Buffer.from(encodeFrame({ type: FrameType.Credit, streamId: 'a', seq: 1, creditBytes: 10 }));
  const longer = Buffer.concat([credit, Buffer.from([0])]);
  longer.writeUInt32BE(5, MESSAGE_HEADER_BYTES + 6 + 1);
  assert.equal(codeOf(() => decodeFrames(longer)), ErrorCode.BadFrame);
  const open = Buffer.from(encodeFrame({ type: FrameType.Open, streamId: 'a', seq: 0, windowBytes: 16, replyTo: 'r', head: bytes('h') }));
  open[MESSAGE_HEADER_BYTES + FRAME_FIXED_HEADER_BYTES + 1 + 4] = 0x02;
  assert.equal(codeOf(() => decodeFrames(open)), ErrorCode.BadFrame);
});

test('bad magic, other versions, unknown types and bad fields are rejected', () => {
  const good = Buffer.from(encodeFrame({ type: FrameType.Credit, streamId: 'a', seq: 1, creditBytes: 10 }));
  const badMagic = Buffer.from(good);
  badMagic[0] = 0x00;
  assert.equal(codeOf(() => decodeFrame(badMagic)), ErrorCode.BadFrame);
  const newer = Buffer.from(good);
  newer[2] = RELAY_VERSION + 1;
  assert.equal(codeOf(() => decodeFrame(newer)), ErrorCode.BadVersion);
  const unknownType = Buffer.from(good);
  unknownType[3] = 99;
  assert.equal(codeOf(() => decodeFrame(unknownType)), ErrorCode.BadFrame);
  const emptyId = Buffer.from(good);
  emptyId[8] = 0;
  assert.equal(codeOf(() => decodeFrame(emptyId)), ErrorCode.BadFrame);
  const zeroCredit = Buffer.from(good);
  zeroCredit.writeUInt32BE(0, good.length - 4);
  assert.equal(codeOf(() => decodeFrame(zeroCredit)), ErrorCode.BadFrame);
  const endWithBody = Buffer.concat([encodeFrame({ type: FrameType.End, streamId: 'a', seq: 1 }), Buffer.from([1])]);
  assert.equal(codeOf(() => decodeFrame(endWithBody)), ErrorCode.BadFrame);
  assert.equal(codeOf(() => decodeFrame(Buffer.alloc(FRAME_FIXED_HEADER_BYTES + MAX_HEAD_BYTES + 1000, 0x48))), ErrorCode.BadFrame);
  const pingWithBody = Buffer.concat([encodeFrame({ type: FrameType.Ping, streamId: 'a', seq: 1 }), Buffer.from([1])]);
  assert.equal(codeOf(() => decodeFrame(pingWithBody)), ErrorCode.BadFrame);
  const pong = Buffer.from(encodeFrame({ type: FrameType.Pong, streamId: 'a', seq: 1, instance: 'i' }));
  assert.equal(codeOf(() => decodeFrame(pong.subarray(0, pong.length - 1))), ErrorCode.BadFrame);
  const longPong = Buffer.concat([pong, Buffer.alloc(MAX_INSTANCE_ID_BYTES, 0x61)]);
  assert.equal(codeOf(() => decodeFrame(longPong)), ErrorCode.BadFrame);
});

test('PING and PONG are one-frame messages of the common layout (types 9 and 10)', () => {
  const ping = Buffer.from(encodeFrame({ type: FrameType.Ping, streamId: 'ab', seq: 258 }));
  assert.equal(ping.toString('hex'), '4852' + '02' + '09' + '00000102' + '02' + '6162' + '00000000');
  const pong = Buffer.from(encodeFrame({ type: FrameType.Pong, streamId: 'ab', seq: 258, instance: 'xy' }));
  assert.equal(pong.toString('hex'), '4852' + '02' + '0a' + '00000102' + '02' + '6162' + '00000002' + '7879');
});

test('random bytes never decode into an exception other than HopError', () => {
  let seed = 12345;
  const next = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  for (let i = 0; i < 5000; i += 1) {
    const buf = Buffer.alloc(next() % 40);
    for (let j = 0; j < buf.length; j += 1) buf[j] = next() & 0xff;
    if (i % 2 === 0 && buf.length >= 4) buf.writeUInt16BE(0x4852, 0), (buf[2] = RELAY_VERSION), (buf[3] = 1 + (next() % 10));
    try {
      decodeFrame(buf);
    } catch (err) {
      assert.ok(err instanceof HopError, String(err));
    }
  }
});

test('a REJECT with a code this version does not know decodes as ERR_STREAM_RESET', () => {
  const frame = Buffer.from(encodeFrame({ type: FrameType.Reject, streamId: 'a', seq: 0, code: ErrorCode.Busy, message: 'm' }));
  const known = decodeFrame(frame);
  assert.equal(known.type === FrameType.Reject && known.code, ErrorCode.Busy);
  const idEnd = MESSAGE_HEADER_BYTES + 6 + 1;
  const body = Buffer.concat([Buffer.from([11]), Buffer.from('ERR_FUTURE1'), Buffer.from('m')]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  const future = Buffer.concat([frame.subarray(0, idEnd), length, body]);
  const decoded = decodeFrame(future);
  assert.equal(decoded.type, FrameType.Reject);
  assert.equal(decoded.type === FrameType.Reject && decoded.code, ErrorCode.StreamReset);
});

test('long error messages are cut at a UTF-8 character boundary', () => {
  const message = 'é'.repeat(MAX_ERROR_MESSAGE_BYTES); // 2 bytes each
  const decoded = decodeFrame(encodeFrame({ type: FrameType.Reset, streamId: 'a', seq: 1, code: ErrorCode.Internal, message }));
  assert.equal(decoded.type === FrameType.Reset && decoded.message, 'é'.repeat(MAX_ERROR_MESSAGE_BYTES / 2));
  const odd = 'a' + 'é'.repeat(MAX_ERROR_MESSAGE_BYTES);
  const decodedOdd = decodeFrame(encodeFrame({ type: FrameType.Reset, streamId: 'a', seq: 1, code: ErrorCode.Internal, message: odd }));
  assert.equal(decodedOdd.type === FrameType.Reset && decodedOdd.message, 'a' + 'é'.repeat(MAX_ERROR_MESSAGE_BYTES / 2 - 1));
});

test('encoding refuses what the format cannot carry', () => {
  assert.equal(codeOf(() => encodeFrame({ type: FrameType.End, streamId: '', seq: 0 })), ErrorCode.BadFrame);
  assert.equal(codeOf(() => encodeFrame({ type: FrameType.End, streamId: 'x'.repeat(256), seq: 0 })), ErrorCode.BadFrame);
  assert.equal(codeOf(() => encodeFrame({ type: FrameType.End, streamId: 'a', seq: 2 ** 32 })), ErrorCode.BadFrame);
  assert.equal(codeOf(() => encodeFrame({ type: FrameType.Credit, streamId: 'a', seq: 0, creditBytes: 0 })), ErrorCode.BadFrame);
  assert.equal(codeOf(() => encodeFrame({ type: FrameType.Response, streamId: 'a', seq: 0, head: new Uint8Array(MAX_HEAD_BYTES + 1) })), ErrorCode.BadFrame);
  assert.equal(codeOf(() => encodeFrame({ type: FrameType.Pong, streamId: 'a', seq: 0, instance: '' })), ErrorCode.BadFrame);
  assert.equal(codeOf(() => encodeFrame({ type: FrameType.Pong, streamId: 'a', seq: 0, instance: 'x'.repeat(MAX_INSTANCE_ID_BYTES + 1) })), ErrorCode.BadFrame);
});
