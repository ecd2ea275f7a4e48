import { ErrorCode, HopError, isErrorCode } from '@hopgate/errors';
import {
  FrameType,
  OPEN_FLAG_FIN,
  RELAY_MAGIC,
  RELAY_VERSION,
  type Frame,
  type FrameBody,
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
 * Binary encoding of relay messages (all integers big-endian). One NATS message carries one or
 * more frames, in order (a node batches the frames of one event-loop turn to one subject):
 *
 *   message:  0 u16 magic 0x4852 ("HR")   2 u8 version (2)   3 frame, frame, ... (at least one)
 *   frame:    0 u8 type   1 u32 seq   5 u8 stream id length N   6 N bytes stream id (UTF-8)
 *             6+N u32 body length L   10+N L bytes body, by type:
 *     OPEN      u32 window bytes, u8 flags (bit 0: FIN, the request body is empty: no END follows),
 *               u8 subject length S, S bytes reply subject, rest = head
 *     ACCEPT    u32 credit bytes            CREDIT  u32 credit bytes
 *     REJECT    u8 code length C, C bytes code (ASCII), rest = message (UTF-8)   (RESET: same)
 *     DATA      payload                     RESPONSE  head                     END  (empty)
 *     PING      (empty)                     PONG  responder instance id (ASCII, 1..64 bytes)
 *
 * decodeFrames never returns a partly valid message: it throws HopError(BadFrame | BadVersion).
 */

/** Bytes before the first frame of a message: magic and version. */
export const MESSAGE_HEADER_BYTES = 3;
/** Bytes of a frame's header besides its stream id: type, seq, id length, body length. */
export const FRAME_FIXED_HEADER_BYTES = 10;

const OPEN_FIXED_BODY_BYTES = 6;

/**
 * Writes frames into buffers: measure() a frame (which validates it), then write() it at an
 * offset of a buffer with that much room. Keeps the parts measure() made for write() (one
 * encoder per writer; never shared across an await).
 */
export class FrameEncoder {
  private parts: Uint8Array[] = [];
  private bodyBytes = 0;
  /** The last OPEN reply subject and its bytes: a node names the same subject in every OPEN. */
  private subjectText = '';
  private subjectBytes: Uint8Array = new Uint8Array(0);

  /** Bytes the frame takes in a message; throws HopError(BadFrame) for what the format cannot carry. */
  measure(id: Uint8Array, seq: number, body: FrameBody): number {
    if (id.byteLength === 0 || id.byteLength > MAX_STREAM_ID_BYTES) {
      throw new HopError(ErrorCode.BadFrame, `stream id must be 1..${MAX_STREAM_ID_BYTES} bytes`);
    }
    if (!isU32(seq)) throw new HopError(ErrorCode.BadFrame, `seq ${seq} is not an unsigned 32-bit integer`);
    this.parts = [];
    switch (body.type) {
      case FrameType.Data:
        this.bodyBytes = body.payload.byteLength;
        break;
      case FrameType.Accept:
      case FrameType.Credit:
        checkCredit(body.creditBytes);
        this.bodyBytes = 4;
        break;
      case FrameType.End:
      case FrameType.Ping:
        this.bodyBytes = 0;
        break;
      case FrameType.Response:
        checkHead(body.head);
        this.bodyBytes = body.head.byteLength;
        break;
      case FrameType.Open: {
        checkHead(body.head);
        checkCredit(body.windowBytes);
        if (body.replyTo !== this.subjectText) {
          this.subjectBytes = Buffer.from(body.replyTo, 'latin1');
          this.subjectText = body.replyTo;
        }
        const subject = this.subjectBytes;
        if (subject.length === 0 || subject.length > MAX_SUBJECT_BYTES) {
          throw new HopError(ErrorCode.BadFrame, `reply subject must be 1..${MAX_SUBJECT_BYTES} bytes`);
        }
        this.parts = [subject];
        this.bodyBytes = OPEN_FIXED_BODY_BYTES + subject.length + body.head.byteLength;
        break;
      }
      case FrameType.Reject:
      case FrameType.Reset: {
        const code = Buffer.from(body.code, 'latin1');
        const message = truncateUtf8(body.message, MAX_ERROR_MESSAGE_BYTES);
        this.parts = [Uint8Array.of(code.length), code, message];
        this.bodyBytes = 1 + code.length + message.length;
        break;
      }
      case FrameType.Pong: {
        const instance = Buffer.from(body.instance, 'latin1');
        if (instance.length === 0 || instance.length > MAX_INSTANCE_ID_BYTES) {
          throw new HopError(ErrorCode.BadFrame, `instance id must be 1..${MAX_INSTANCE_ID_BYTES} bytes`);
        }
        this.parts = [instance];
        this.bodyBytes = instance.length;
        break;
      }
    }
    return FRAME_FIXED_HEADER_BYTES + id.byteLength + this.bodyBytes;
  }

  /** Writes the frame last measured (same arguments) at `offset`; returns the offset after it. */
  write(out: Buffer, offset: number, id: Uint8Array, seq: number, body: FrameBody): number {
    out[offset] = body.type;
    out.writeUInt32BE(seq, offset + 1);
    out[offset + 5] = id.byteLength;
    copyInto(out, id, offset + 6);
    let at = offset + 6 + id.byteLength;
    out.writeUInt32BE(this.bodyBytes, at);
    at += 4;
    switch (body.type) {
      case FrameType.Data:
        out.set(body.payload, at);
        return at + body.payload.byteLength;
      case FrameType.Accept:
      case FrameType.Credit:
        out.writeUInt32BE(body.creditBytes, at);
        return at + 4;
      case FrameType.Response:
        copyInto(out, body.head, at);
        return at + body.head.byteLength;
      case FrameType.Open: {
        out.writeUInt32BE(body.windowBytes, at);
        out[at + 4] = body.fin === true ? OPEN_FLAG_FIN : 0;
        const subject = this.parts[0]!;
        out[at + 5] = subject.byteLength;
        copyInto(out, subject, at + OPEN_FIXED_BODY_BYTES);
        at += OPEN_FIXED_BODY_BYTES + subject.byteLength;
        copyInto(out, body.head, at);
        return at + body.head.byteLength;
      }
      default:
        for (const part of this.parts) {
          out.set(part, at);
          at += part.byteLength;
        }
        return at;
    }
  }
}

/** Below this many bytes a loop copies faster than TypedArray.set (a call into the runtime). */
const LOOP_COPY_MAX_BYTES = 64;

function copyInto(out: Uint8Array, src: Uint8Array, at: number): void {
  const n = src.byteLength;
  if (n >= LOOP_COPY_MAX_BYTES) {
    out.set(src, at);
    return;
  }
  for (let i = 0; i < n; i += 1) out[at + i] = src[i]!;
}

/** Writes the message header (magic, version) at `offset`; returns the offset after it. */
export function writeMessageHeader(out: Buffer, offset: number): number {
  out.writeUInt16BE(RELAY_MAGIC, offset);
  out[offset + 2] = RELAY_VERSION;
  return offset + MESSAGE_HEADER_BYTES;
}

/** One message holding the given frames, in order. */
export function encodeFrames(frames: readonly Frame[]): Uint8Array {
  if (frames.length === 0) throw new HopError(ErrorCode.BadFrame, 'a message holds at least one frame');
  const encoder = new FrameEncoder();
  const ids = frames.map((frame) => Buffer.from(frame.streamId, 'utf8'));
  let size = MESSAGE_HEADER_BYTES;
  frames.forEach((frame, i) => (size += encoder.measure(ids[i]!, frame.seq, frame)));
  const out = Buffer.allocUnsafe(size);
  let offset = writeMessageHeader(out, 0);
  frames.forEach((frame, i) => {
    encoder.measure(ids[i]!, frame.seq, frame);
    offset = encoder.write(out, offset, ids[i]!, frame.seq, frame);
  });
  return out;
}

/** One message holding one frame. */
export function encodeFrame(frame: Frame): Uint8Array {
  return encodeFrames([frame]);
}

/** The frames of a message, in order; throws HopError(BadFrame | BadVersion) if any part is malformed. */
export function decodeFrames(bytes: Uint8Array): Frame[] {
  if (bytes.byteLength < MESSAGE_HEADER_BYTES + FRAME_FIXED_HEADER_BYTES) {
    throw bad(`message of ${bytes.byteLength} bytes is shorter than a header`);
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = buf.readUInt16BE(0);
  if (magic !== RELAY_MAGIC) throw bad(`bad magic 0x${magic.toString(16)}`);
  const version = buf[2]!;
  if (version !== RELAY_VERSION) {
    throw new HopError(ErrorCode.BadVersion, `relay frame version ${version}, expected ${RELAY_VERSION}`);
  }
  const frames: Frame[] = [];
  let offset = MESSAGE_HEADER_BYTES;
  while (offset < buf.length) {
    if (buf.length - offset < FRAME_FIXED_HEADER_BYTES) throw bad('truncated frame header');
    const type = buf[offset]!;
    const seq = buf.readUInt32BE(offset + 1);
    const idLength = buf[offset + 5]!;
    if (idLength === 0) throw bad('empty stream id');
    const idEnd = offset + 6 + idLength;
    if (buf.length < idEnd + 4) throw bad('truncated stream id');
    const bodyLength = buf.readUInt32BE(idEnd);
    const bodyStart = idEnd + 4;
    const bodyEnd = bodyStart + bodyLength;
    if (bodyEnd > buf.length) throw bad(`truncated ${frameTypeName(type)} body`);
    const streamId = buf.toString('utf8', offset + 6, idEnd);
    frames.push(decodeBody(type, streamId, seq, buf.subarray(bodyStart, bodyEnd)));
    offset = bodyEnd;
  }
  return frames;
}

/** The one frame of a message; throws HopError(BadFrame) if it holds more. */
export function decodeFrame(bytes: Uint8Array): Frame {
  const frames = decodeFrames(bytes);
  if (frames.length !== 1) throw bad(`message of ${frames.length} frames where one was expected`);
  return frames[0]!;
}

function decodeBody(type: number, streamId: string, seq: number, body: Buffer): Frame {
  switch (type) {
    case FrameType.Data:
      return { type, streamId, seq, payload: body };
    case FrameType.Accept:
    case FrameType.Credit: {
      if (body.length !== 4) throw bad(`${frameTypeName(type)} body must be 4 bytes, got ${body.length}`);
      const creditBytes = body.readUInt32BE(0);
      if (creditBytes === 0) throw bad(`${frameTypeName(type)} with zero credit`);
      return { type, streamId, seq, creditBytes };
    }
    case FrameType.End:
    case FrameType.Ping:
      if (body.length !== 0) throw bad(`${frameTypeName(type)} with a ${body.length} byte body`);
      return { type, streamId, seq };
    case FrameType.Response:
      if (body.length > MAX_HEAD_BYTES) throw bad(`RESPONSE head of ${body.length} bytes exceeds ${MAX_HEAD_BYTES}`);
      return { type, streamId, seq, head: body };
    case FrameType.Open: {
      if (body.length < OPEN_FIXED_BODY_BYTES) throw bad('truncated OPEN');
      const windowBytes = body.readUInt32BE(0);
      const flags = body[4]!;
      const subjectLength = body[5]!;
      const headStart = OPEN_FIXED_BODY_BYTES + subjectLength;
      if (subjectLength === 0 || body.length < headStart) throw bad('truncated OPEN reply subject');
      if (windowBytes === 0) throw bad('OPEN with a zero window');
      if ((flags & ~OPEN_FLAG_FIN) !== 0) throw bad(`OPEN with unknown flags 0x${flags.toString(16)}`);
      const head = body.subarray(headStart);
      if (head.length > MAX_HEAD_BYTES) throw bad(`OPEN head of ${head.length} bytes exceeds ${MAX_HEAD_BYTES}`);
      const replyTo = body.toString('latin1', OPEN_FIXED_BODY_BYTES, headStart);
      return { type, streamId, seq, windowBytes, fin: (flags & OPEN_FLAG_FIN) !== 0, replyTo, head };
    }
    case FrameType.Reject:
    case FrameType.Reset: {
      if (body.length < 1) throw bad(`truncated ${frameTypeName(type)}`);
      const codeLength = body[0]!;
      if (body.length < 1 + codeLength) throw bad(`truncated ${frameTypeName(type)} code`);
      const rawCode = body.toString('latin1', 1, 1 + codeLength);
      // A code this version does not know (a newer peer) still resets the stream.
      const code = isErrorCode(rawCode) ? rawCode : ErrorCode.StreamReset;
      return { type, streamId, seq, code, message: body.toString('utf8', 1 + codeLength) };
    }
    case FrameType.Pong:
      if (body.length === 0 || body.length > MAX_INSTANCE_ID_BYTES) {
        throw bad(`PONG instance id of ${body.length} bytes, must be 1..${MAX_INSTANCE_ID_BYTES}`);
      }
      return { type, streamId, seq, instance: body.toString('latin1') };
    default:
      throw bad(`unknown frame type ${type}`);
  }
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
