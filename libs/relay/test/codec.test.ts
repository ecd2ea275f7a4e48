import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, HopError } from '@hopgate/errors';
import {
  decodeFrame,
  encodeFrame,
  FrameType,
  FRAME_FIXED_HEADER_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_HEAD_BYTES,
  MAX_INSTANCE_ID_BYTES,
  RELAY_VERSION,
  type Frame,
} from '../src/index.js';

const bytes = (s: string): Uint8Array => Buffer.from(s, 'utf8');

const samples: Frame[] = [
  { type: FrameType.Open, streamId: 'ing-1-abcd-1', seq: 0, windowBytes: 983_040, replyTo: 'hopgate.ingress.ing-1', head: bytes('GET / HTTP/1.1') },
  { type: FrameType.Open, streamId: 's', seq: 0, windowBytes: 1, replyTo: 'x', head: new Uint8Array(0) },
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

test('the header layout is magic "HR", version, type, seq, id', () => {
  const encoded = Buffer.from(encodeFrame({ type: FrameType.End, streamId: 'ab', seq: 258 }));
  assert.equal(encoded.toString('hex'), '4852' + '01' + '05' + '00000102' + '02' + '6162');
  assert.equal(encoded.length, FRAME_FIXED_HEADER_BYTES + 2);
});

test('every truncation of every frame is rejected with ERR_BAD_FRAME, never a partial frame', () => {
  for (const frame of samples) {
    const encoded = encodeFrame(frame);
    for (let length = 0; length < encoded.length; length += 1) {
      const cut = encoded.subarray(0, length);
      // DATA and RESPONSE bodies (and heads, messages) are "the rest": a cut inside them still
      // decodes, as a shorter but well-formed frame. Anything cut before the body must fail.
      const fixedBody = { [FrameType.Open]: 5, [FrameType.Accept]: 4, [FrameType.Credit]: 4, [FrameType.Reject]: 1, [FrameType.Reset]: 1, [FrameType.Pong]: 1 } as Record<number, number>;
      const bodyStart = FRAME_FIXED_HEADER_BYTES + Buffer.byteLength(frame.streamId);
      const mustFail = length < bodyStart || length < bodyStart + (fixedBody[frame.type] ?? 0) ||
        frame.type === FrameType.Accept || frame.type === FrameType.Credit || frame.type === FrameType.End ||
        frame.type === FrameType.Ping;
      if (mustFail) assert.equal(codeOf(() => decodeFrame(cut)), ErrorCode.BadFrame, `type ${frame.type} cut at ${length}`);
    }
  }
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

test('PING and PONG keep version 1 and the common header (types 9 and 10)', () => {
  const ping = Buffer.from(encodeFrame({ type: FrameType.Ping, streamId: 'ab', seq: 258 }));
  assert.equal(ping.toString('hex'), '4852' + '01' + '09' + '00000102' + '02' + '6162');
  const pong = Buffer.from(encodeFrame({ type: FrameType.Pong, streamId: 'ab', seq: 258, instance: 'xy' }));
  assert.equal(pong.toString('hex'), '4852' + '01' + '0a' + '00000102' + '02' + '6162' + '7879');
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
  const future = Buffer.concat([frame.subarray(0, FRAME_FIXED_HEADER_BYTES + 1), Buffer.from([11]), Buffer.from('ERR_FUTURE1'), Buffer.from('m')]);
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
