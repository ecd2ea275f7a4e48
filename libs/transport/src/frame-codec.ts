/**
 * Frame encoding and decoding (RFC 9000 §19 shapes, varints per §16).
 * Encoders write into a caller-provided buffer (the caller checks space with the *Size
 * functions); the decoder never throws: malformed input sets `reader.failed`.
 */
import { MAX_STREAMS_LIMIT } from './constants.js';
import {
  type Frame,
  FrameType,
  STREAM_FLAG_FIN,
  STREAM_FLAG_LEN,
  STREAM_FLAG_OFF,
} from './frames.js';
import { ByteReader, VARINT_MAX, varintSize, writeVarint } from './varint.js';

// ---------------------------------------------------------------- STREAM (hot path)

/** Size of a STREAM frame header (type, id, offset if non-zero, length); RFC 9000 §19.8. */
export function streamFrameHeaderSize(streamId: number, offset: number, length: number): number {
  return 1 + varintSize(streamId) + (offset > 0 ? varintSize(offset) : 0) + varintSize(length);
}

/** Writes a STREAM frame header with an explicit length; the caller copies `length` bytes after it. */
export function writeStreamFrameHeader(
  buf: Uint8Array,
  pos: number,
  streamId: number,
  offset: number,
  length: number,
  fin: boolean,
): number {
  let type = FrameType.Stream | STREAM_FLAG_LEN;
  if (offset > 0) type |= STREAM_FLAG_OFF;
  if (fin) type |= STREAM_FLAG_FIN;
  buf[pos] = type;
  pos = writeVarint(buf, pos + 1, streamId);
  if (offset > 0) pos = writeVarint(buf, pos, offset);
  return writeVarint(buf, pos, length);
}

// ---------------------------------------------------------------- ACK (hot path)

/**
 * Size of an ACK frame (RFC 9000 §19.3) for `rangeCount` inclusive ranges in `ranges`
 * ([largest0, smallest0, largest1, smallest1, ...], descending).
 */
export function ackFrameSize(ranges: readonly number[], rangeCount: number, ackDelayUs: number): number {
  const largest = ranges[0] as number;
  let size = 1 + varintSize(largest) + varintSize(ackDelayUs) + varintSize(rangeCount - 1);
  size += varintSize(largest - (ranges[1] as number));
  for (let i = 1; i < rangeCount; i++) {
    const prevSmallest = ranges[2 * i - 1] as number;
    const rangeLargest = ranges[2 * i] as number;
    const rangeSmallest = ranges[2 * i + 1] as number;
    size += varintSize(prevSmallest - rangeLargest - 2) + varintSize(rangeLargest - rangeSmallest);
  }
  return size;
}

/** Writes an ACK frame; see ackFrameSize. */
export function writeAckFrame(
  buf: Uint8Array,
  pos: number,
  ranges: readonly number[],
  rangeCount: number,
  ackDelayUs: number,
): number {
  const largest = ranges[0] as number;
  buf[pos] = FrameType.Ack;
  pos = writeVarint(buf, pos + 1, largest);
  pos = writeVarint(buf, pos, ackDelayUs);
  pos = writeVarint(buf, pos, rangeCount - 1);
  pos = writeVarint(buf, pos, largest - (ranges[1] as number));
  for (let i = 1; i < rangeCount; i++) {
    const prevSmallest = ranges[2 * i - 1] as number;
    const rangeLargest = ranges[2 * i] as number;
    const rangeSmallest = ranges[2 * i + 1] as number;
    // Gap: packets between this range and the previous one, minus one (RFC 9000 §19.3.1).
    pos = writeVarint(buf, pos, prevSmallest - rangeLargest - 2);
    pos = writeVarint(buf, pos, rangeLargest - rangeSmallest);
  }
  return pos;
}

// ---------------------------------------------------------------- every other frame

/** Encoded size of a frame (STREAM frames include their data). */
export function frameSize(frame: Frame): number {
  switch (frame.type) {
    case FrameType.Ping:
    case FrameType.ImmediateAck:
      return 1;
    case FrameType.Ack:
      return ackFrameSize(frame.ranges, frame.ranges.length / 2, frame.ackDelayUs);
    case FrameType.ResetStream:
      return 1 + varintSize(frame.streamId) + varintSize(frame.errorCode) + varintSize(frame.finalSize);
    case FrameType.StopSending:
      return 1 + varintSize(frame.streamId) + varintSize(frame.errorCode);
    case FrameType.Stream:
      return streamFrameHeaderSize(frame.streamId, frame.offset, frame.data.length) + frame.data.length;
    case FrameType.MaxData:
      return 1 + varintSize(frame.maximumData);
    case FrameType.MaxStreamData:
      return 1 + varintSize(frame.streamId) + varintSize(frame.maximumStreamData);
    case FrameType.MaxStreams:
      return 1 + varintSize(frame.maximumStreams);
    case FrameType.DataBlocked:
      return 1 + varintSize(frame.maximumData);
    case FrameType.StreamDataBlocked:
      return 1 + varintSize(frame.streamId) + varintSize(frame.maximumStreamData);
    case FrameType.ConnectionClose:
    case FrameType.ApplicationClose: {
      const reasonLength = Buffer.byteLength(frame.reason);
      return 1 + varintSize(frame.errorCode) + varintSize(reasonLength) + reasonLength;
    }
    case FrameType.TransportParameters:
      return (
        1 +
        varintSize(frame.initialMaxData) +
        varintSize(frame.initialMaxStreamData) +
        varintSize(frame.initialMaxStreams)
      );
  }
}

/** Writes any frame at `pos` and returns the position after it. */
export function writeFrame(buf: Uint8Array, pos: number, frame: Frame): number {
  switch (frame.type) {
    case FrameType.Ping:
    case FrameType.ImmediateAck:
      buf[pos] = frame.type;
      return pos + 1;
    case FrameType.Ack:
      return writeAckFrame(buf, pos, frame.ranges, frame.ranges.length / 2, frame.ackDelayUs);
    case FrameType.ResetStream:
      buf[pos] = frame.type;
      pos = writeVarint(buf, pos + 1, frame.streamId);
      pos = writeVarint(buf, pos, frame.errorCode);
      return writeVarint(buf, pos, frame.finalSize);
    case FrameType.StopSending:
      buf[pos] = frame.type;
      pos = writeVarint(buf, pos + 1, frame.streamId);
      return writeVarint(buf, pos, frame.errorCode);
    case FrameType.Stream:
      pos = writeStreamFrameHeader(buf, pos, frame.streamId, frame.offset, frame.data.length, frame.fin);
      buf.set(frame.data, pos);
      return pos + frame.data.length;
    case FrameType.MaxData:
    case FrameType.DataBlocked:
      buf[pos] = frame.type;
      return writeVarint(buf, pos + 1, frame.maximumData);
    case FrameType.MaxStreamData:
    case FrameType.StreamDataBlocked:
      buf[pos] = frame.type;
      pos = writeVarint(buf, pos + 1, frame.streamId);
      return writeVarint(buf, pos, frame.maximumStreamData);
    case FrameType.MaxStreams:
      buf[pos] = frame.type;
      return writeVarint(buf, pos + 1, frame.maximumStreams);
    case FrameType.ConnectionClose:
    case FrameType.ApplicationClose: {
      const reason = Buffer.from(frame.reason, 'utf8');
      buf[pos] = frame.type;
      pos = writeVarint(buf, pos + 1, frame.errorCode);
      pos = writeVarint(buf, pos, reason.length);
      buf.set(reason, pos);
      return pos + reason.length;
    }
    case FrameType.TransportParameters:
      buf[pos] = frame.type;
      pos = writeVarint(buf, pos + 1, frame.initialMaxData);
      pos = writeVarint(buf, pos, frame.initialMaxStreamData);
      return writeVarint(buf, pos, frame.initialMaxStreams);
  }
}

// ---------------------------------------------------------------- decoding

function toBuffer(view: Uint8Array): Buffer {
  return Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

function decodeAck(reader: ByteReader): Frame | null {
  const largest = reader.varint();
  const ackDelayUs = reader.varint();
  const extraRanges = reader.varint();
  const firstRange = reader.varint();
  // Each further range takes at least two bytes: bound the loop by what is left.
  if (reader.failed || extraRanges > reader.remaining / 2 || firstRange > largest) return null;
  const ranges = [largest, largest - firstRange];
  let smallest = largest - firstRange;
  for (let i = 0; i < extraRanges; i++) {
    const gap = reader.varint();
    const length = reader.varint();
    // RFC 9000 §19.3.1: a negative packet number is a FRAME_ENCODING_ERROR.
    const rangeLargest = smallest - gap - 2;
    const rangeSmallest = rangeLargest - length;
    if (reader.failed || rangeSmallest < 0) return null;
    ranges.push(rangeLargest, rangeSmallest);
    smallest = rangeSmallest;
  }
  return { type: FrameType.Ack, largestAcknowledged: largest, ackDelayUs, ranges };
}

function decodeStream(reader: ByteReader, type: number): Frame | null {
  const streamId = reader.varint();
  const offset = type & STREAM_FLAG_OFF ? reader.varint() : 0;
  const length = type & STREAM_FLAG_LEN ? reader.varint() : reader.remaining;
  if (reader.failed) return null;
  const data = reader.bytes(length);
  // RFC 9000 §19.8: offset + length must not exceed 2^62 - 1 (here: 2^53 - 1).
  if (reader.failed || offset + length > VARINT_MAX) return null;
  return { type: FrameType.Stream, streamId, offset, data: toBuffer(data), fin: (type & STREAM_FLAG_FIN) !== 0 };
}

/**
 * Decodes one frame at the reader's position. PADDING is skipped (returns the next frame
 * or `undefined` at the end); malformed input returns null with no exception.
 */
export function decodeFrame(reader: ByteReader): Frame | null | undefined {
  let type = reader.varint();
  while (type === FrameType.Padding && !reader.failed) {
    if (reader.remaining === 0) return undefined;
    type = reader.varint();
  }
  if (reader.failed) return null;
  let frame: Frame | null;
  switch (type) {
    case FrameType.Ping:
      frame = { type: FrameType.Ping };
      break;
    case FrameType.ImmediateAck:
      frame = { type: FrameType.ImmediateAck };
      break;
    case FrameType.Ack:
      frame = decodeAck(reader);
      break;
    case FrameType.ResetStream:
      frame = {
        type: FrameType.ResetStream,
        streamId: reader.varint(),
        errorCode: reader.varint(),
        finalSize: reader.varint(),
      };
      break;
    case FrameType.StopSending:
      frame = { type: FrameType.StopSending, streamId: reader.varint(), errorCode: reader.varint() };
      break;
    case FrameType.MaxData:
      frame = { type: FrameType.MaxData, maximumData: reader.varint() };
      break;
    case FrameType.MaxStreamData:
      frame = { type: FrameType.MaxStreamData, streamId: reader.varint(), maximumStreamData: reader.varint() };
      break;
    case FrameType.MaxStreams: {
      const maximumStreams = reader.varint();
      // RFC 9000 §19.11: a count above 2^60 is a FRAME_ENCODING_ERROR.
      frame = maximumStreams > MAX_STREAMS_LIMIT ? null : { type: FrameType.MaxStreams, maximumStreams };
      break;
    }
    case FrameType.DataBlocked:
      frame = { type: FrameType.DataBlocked, maximumData: reader.varint() };
      break;
    case FrameType.StreamDataBlocked:
      frame = {
        type: FrameType.StreamDataBlocked,
        streamId: reader.varint(),
        maximumStreamData: reader.varint(),
      };
      break;
    case FrameType.ConnectionClose:
    case FrameType.ApplicationClose: {
      const errorCode = reader.varint();
      const reasonLength = reader.varint();
      const reason = reader.failed ? null : reader.bytes(reasonLength);
      frame =
        reason === null || reader.failed
          ? null
          : { type, errorCode, reason: toBuffer(reason).toString('utf8') };
      break;
    }
    case FrameType.TransportParameters: {
      const initialMaxData = reader.varint();
      const initialMaxStreamData = reader.varint();
      const initialMaxStreams = reader.varint();
      frame =
        initialMaxStreams > MAX_STREAMS_LIMIT
          ? null
          : { type: FrameType.TransportParameters, initialMaxData, initialMaxStreamData, initialMaxStreams };
      break;
    }
    default:
      frame = type >= FrameType.Stream && type <= (FrameType.Stream | 0x07) ? decodeStream(reader, type) : null;
  }
  return reader.failed ? null : frame;
}
