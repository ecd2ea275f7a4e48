import { ErrorCode, HopError, isErrorCode } from '@hopgate/errors';
import {
  FrameType,
  RELAY_MAGIC,
  RELAY_VERSION,
  type Frame,
  frameTypeName,
} from './frames.js';
import {
  MAX_ERROR_MESSAGE_BYTES,
  MAX_HEAD_BYTES,
  MAX_INSTANCE_ID_BYTES,
  MAX_STREAM_ID_BYTES,
  MAX_SUBJECT_BYTES,
  MAX_WINDOW_BYTES,
} from './defaults.js';

/**
 * Binary encoding of relay frames (all integers big-endian):
 *
 *   0  u16 magic 0x4852 ("HR")    2  u8 version (1)    3  u8 type
 *   4  u32 seq                    8  u8 stream id length N    9  N bytes stream id (UTF-8)
 *   9+N  body, by type:
 *     OPEN      u32 window bytes, u8 subject length S, S bytes reply subject, rest = head
 *     ACCEPT    u32 credit bytes            CREDIT  u32 credit bytes
 *     REJECT    u8 code length C, C bytes code (ASCII), rest = message (UTF-8)   (RESET: same)
 *     DATA      rest = payload              RESPONSE  rest = head              END  (empty)
 *     PING      (empty)                     PONG  rest = responder instance id (ASCII, 1..64 bytes)
 *
 * decodeFrame never returns a partly valid frame: it throws HopError(BadFrame | BadVersion).
 */

/** Bytes before the stream id. */
export const FRAME_FIXED_HEADER_BYTES = 9;

export function encodeFrame(frame: Frame): Uint8Array {
  const id = Buffer.from(frame.streamId, 'utf8');
  if (id.length === 0 || id.length > MAX_STREAM_ID_BYTES) {
    throw new HopError(ErrorCode.BadFrame, `stream id must be 1..${MAX_STREAM_ID_BYTES} bytes`);
  }
  if (!isU32(frame.seq)) throw new HopError(ErrorCode.BadFrame, `seq ${frame.seq} is not an unsigned 32-bit integer`);
  const body = encodeBody(frame);
  const out = Buffer.allocUnsafe(FRAME_FIXED_HEADER_BYTES + id.length + bodyLength(body));
  out.writeUInt16BE(RELAY_MAGIC, 0);
  out.writeUInt8(RELAY_VERSION, 2);
  out.writeUInt8(frame.type, 3);
  out.writeUInt32BE(frame.seq, 4);
  out.writeUInt8(id.length, 8);
  id.copy(out, FRAME_FIXED_HEADER_BYTES);
  let offset = FRAME_FIXED_HEADER_BYTES + id.length;
  for (const part of body) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.byteLength < FRAME_FIXED_HEADER_BYTES) throw bad(`frame of ${bytes.byteLength} bytes is shorter than a header`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = buf.readUInt16BE(0);
  if (magic !== RELAY_MAGIC) throw bad(`bad magic 0x${magic.toString(16)}`);
  const version = buf.readUInt8(2);
  if (version !== RELAY_VERSION) {
    throw new HopError(ErrorCode.BadVersion, `relay frame version ${version}, expected ${RELAY_VERSION}`);
  }
  const type = buf.readUInt8(3);
  const seq = buf.readUInt32BE(4);
  const idLength = buf.readUInt8(8);
  const bodyStart = FRAME_FIXED_HEADER_BYTES + idLength;
  if (idLength === 0) throw bad('empty stream id');
  if (buf.length < bodyStart) throw bad('truncated stream id');
  const streamId = buf.toString('utf8', FRAME_FIXED_HEADER_BYTES, bodyStart);
  const body = buf.subarray(bodyStart);
  switch (type) {
    case FrameType.Open: {
      if (body.length < 5) throw bad('truncated OPEN');
      const windowBytes = body.readUInt32BE(0);
      const subjectLength = body.readUInt8(4);
      if (subjectLength === 0 || body.length < 5 + subjectLength) throw bad('truncated OPEN reply subject');
      const head = body.subarray(5 + subjectLength);
      if (windowBytes === 0) throw bad('OPEN with a zero window');
      if (head.length > MAX_HEAD_BYTES) throw bad(`OPEN head of ${head.length} bytes exceeds ${MAX_HEAD_BYTES}`);
      return { type, streamId, seq, windowBytes, replyTo: body.toString('latin1', 5, 5 + subjectLength), head };
    }
    case FrameType.Accept:
    case FrameType.Credit: {
      if (body.length !== 4) throw bad(`${frameTypeName(type)} body must be 4 bytes, got ${body.length}`);
      const creditBytes = body.readUInt32BE(0);
      if (creditBytes === 0) throw bad(`${frameTypeName(type)} with zero credit`);
      return { type, streamId, seq, creditBytes };
    }
    case FrameType.Reject:
    case FrameType.Reset: {
      if (body.length < 1) throw bad(`truncated ${frameTypeName(type)}`);
      const codeLength = body.readUInt8(0);
      if (body.length < 1 + codeLength) throw bad(`truncated ${frameTypeName(type)} code`);
      const rawCode = body.toString('latin1', 1, 1 + codeLength);
      // A code this version does not know (a newer peer) still resets the stream.
      const code = isErrorCode(rawCode) ? rawCode : ErrorCode.StreamReset;
      return { type, streamId, seq, code, message: body.toString('utf8', 1 + codeLength) };
    }
    case FrameType.Data:
      return { type, streamId, seq, payload: body };
    case FrameType.End:
    case FrameType.Ping:
      if (body.length !== 0) throw bad(`${frameTypeName(type)} with a ${body.length} byte body`);
      return { type, streamId, seq };
    case FrameType.Pong:
      if (body.length === 0 || body.length > MAX_INSTANCE_ID_BYTES) {
        throw bad(`PONG instance id of ${body.length} bytes, must be 1..${MAX_INSTANCE_ID_BYTES}`);
      }
      return { type, streamId, seq, instance: body.toString('latin1') };
    case FrameType.Response:
      if (body.length > MAX_HEAD_BYTES) throw bad(`RESPONSE head of ${body.length} bytes exceeds ${MAX_HEAD_BYTES}`);
      return { type, streamId, seq, head: body };
    default:
      throw bad(`unknown frame type ${type}`);
  }
}

function encodeBody(frame: Frame): Uint8Array[] {
  switch (frame.type) {
    case FrameType.Open: {
      const subject = Buffer.from(frame.replyTo, 'latin1');
      if (subject.length === 0 || subject.length > MAX_SUBJECT_BYTES) {
        throw new HopError(ErrorCode.BadFrame, `reply subject must be 1..${MAX_SUBJECT_BYTES} bytes`);
      }
      checkHead(frame.head);
      const fixed = Buffer.allocUnsafe(5);
      fixed.writeUInt32BE(checkCredit(frame.windowBytes), 0);
      fixed.writeUInt8(subject.length, 4);
      return [fixed, subject, frame.head];
    }
    case FrameType.Accept:
    case FrameType.Credit: {
      const fixed = Buffer.allocUnsafe(4);
      fixed.writeUInt32BE(checkCredit(frame.creditBytes), 0);
      return [fixed];
    }
    case FrameType.Reject:
    case FrameType.Reset: {
      const code = Buffer.from(frame.code, 'latin1');
      const message = truncateUtf8(frame.message, MAX_ERROR_MESSAGE_BYTES);
      return [Uint8Array.of(code.length), code, message];
    }
    case FrameType.Data:
      return [frame.payload];
    case FrameType.End:
    case FrameType.Ping:
      return [];
    case FrameType.Pong: {
      const instance = Buffer.from(frame.instance, 'latin1');
      if (instance.length === 0 || instance.length > MAX_INSTANCE_ID_BYTES) {
        throw new HopError(ErrorCode.BadFrame, `instance id must be 1..${MAX_INSTANCE_ID_BYTES} bytes`);
      }
      return [instance];
    }
    case FrameType.Response:
      checkHead(frame.head);
      return [frame.head];
  }
}

function bodyLength(parts: Uint8Array[]): number {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  return total;
}

function checkHead(head: Uint8Array): void {
  if (head.byteLength > MAX_HEAD_BYTES) {
    throw new HopError(ErrorCode.BadFrame, `head of ${head.byteLength} bytes exceeds ${MAX_HEAD_BYTES}`);
  }
}

function checkCredit(bytes: number): number {
  if (!isU32(bytes) || bytes === 0 || bytes > MAX_WINDOW_BYTES) {
    throw new HopError(ErrorCode.BadFrame, `credit ${bytes} must be 1..${MAX_WINDOW_BYTES}`);
  }
  return bytes;
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff;
}

/** Cuts at a character boundary so the receiver never sees half a UTF-8 sequence. */
function truncateUtf8(text: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}

function bad(message: string): HopError {
  return new HopError(ErrorCode.BadFrame, message);
}
