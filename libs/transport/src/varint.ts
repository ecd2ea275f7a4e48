/**
 * Variable-length integers (RFC 9000 §16): the two high bits of the first byte give the
 * length (1, 2, 4 or 8 bytes). JavaScript numbers are exact up to 2^53 - 1, which is the
 * largest value this codec accepts; 8-byte values above it are rejected as malformed.
 */

/** Largest value encodable (RFC 9000 §16 allows 2^62 - 1; JS numbers stop at 2^53 - 1). */
export const VARINT_MAX = Number.MAX_SAFE_INTEGER;

const TWO_POW_32 = 2 ** 32;

/** Bytes needed to encode `value` in its shortest form. */
export function varintSize(value: number): 1 | 2 | 4 | 8 {
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x4000_0000) return 4;
  return 8;
}

/**
 * Writes `value` at `pos` using exactly `size` bytes (a longer form than needed is valid,
 * RFC 9000 §16) and returns the position after it. The caller checks space and range.
 */
export function writeVarintSized(buf: Uint8Array, pos: number, value: number, size: 1 | 2 | 4 | 8): number {
  switch (size) {
    case 1:
      buf[pos] = value;
      return pos + 1;
    case 2:
      buf[pos] = 0x40 | (value >>> 8);
      buf[pos + 1] = value & 0xff;
      return pos + 2;
    case 4:
      buf[pos] = 0x80 | (value >>> 24);
      buf[pos + 1] = (value >>> 16) & 0xff;
      buf[pos + 2] = (value >>> 8) & 0xff;
      buf[pos + 3] = value & 0xff;
      return pos + 4;
    default: {
      const high = Math.floor(value / TWO_POW_32);
      const low = value >>> 0;
      buf[pos] = 0xc0 | (high >>> 24);
      buf[pos + 1] = (high >>> 16) & 0xff;
      buf[pos + 2] = (high >>> 8) & 0xff;
      buf[pos + 3] = high & 0xff;
      buf[pos + 4] = low >>> 24;
      buf[pos + 5] = (low >>> 16) & 0xff;
      buf[pos + 6] = (low >>> 8) & 0xff;
      buf[pos + 7] = low & 0xff;
      return pos + 8;
    }
  }
}

/** Writes `value` in its shortest form at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  return writeVarintSized(buf, pos, value, varintSize(value));
}

/**
 * A cursor over received bytes that never throws: reading past the end or an out-of-range
 * value sets `failed`, and the caller drops the whole packet (RFC 9000 §12.4: a frame that
 * cannot be parsed is an error; here the datagram is discarded as garbage).
 */
export class ByteReader {
  buf: Uint8Array;
  pos: number;
  end: number;
  failed = false;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  reset(buf: Uint8Array, pos: number, end: number): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.failed = false;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** One byte, or 0 with `failed` set. */
  byte(): number {
    if (this.pos >= this.end) {
      this.failed = true;
      return 0;
    }
    return this.buf[this.pos++] as number;
  }

  /** One varint (RFC 9000 §16), or 0 with `failed` set. */
  varint(): number {
    const buf = this.buf;
    const pos = this.pos;
    if (pos >= this.end) {
      this.failed = true;
      return 0;
    }
    const first = buf[pos] as number;
    const size = 1 << (first >>> 6);
    if (pos + size > this.end) {
      this.failed = true;
      return 0;
    }
    this.pos = pos + size;
    switch (size) {
      case 1:
        return first;
      case 2:
        return ((first & 0x3f) << 8) | (buf[pos + 1] as number);
      case 4:
        return (
          (first & 0x3f) * 0x100_0000 +
          ((buf[pos + 1] as number) << 16) +
          ((buf[pos + 2] as number) << 8) +
          (buf[pos + 3] as number)
        );
      default: {
        const high =
          (first & 0x3f) * 0x100_0000 +
          ((buf[pos + 1] as number) << 16) +
          ((buf[pos + 2] as number) << 8) +
          (buf[pos + 3] as number);
        const low =
          (buf[pos + 4] as number) * 0x100_0000 +
          ((buf[pos + 5] as number) << 16) +
          ((buf[pos + 6] as number) << 8) +
          (buf[pos + 7] as number);
        const value = high * TWO_POW_32 + low;
        if (value > VARINT_MAX) {
          this.failed = true;
          return 0;
        }
        return value;
      }
    }
  }

  /** `length` bytes as a view into the packet (no copy), or an empty view with `failed` set. */
  bytes(length: number): Uint8Array {
    if (length > this.end - this.pos) {
      this.failed = true;
      return this.buf.subarray(0, 0);
    }
    const start = this.pos;
    this.pos += length;
    return this.buf.subarray(start, this.pos);
  }
}
