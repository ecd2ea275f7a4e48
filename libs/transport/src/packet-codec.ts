/**
 * Packet layout (version 1):
 *
 *   first byte      0x11: format version (high nibble) and packet type (low nibble)
 *   packet number   varint (RFC 9000 §16); never repeats within a connection (RFC 9000 §12.3),
 *                   sent in full because there is no header protection to truncate for
 *   payload length  2-byte varint: the bytes that follow (like the Length field of QUIC's
 *                   long header, RFC 9000 §17.2), so that a truncated datagram is detected
 *   frames          one or more (RFC 9000 §12.4)
 *
 * Integrity comes from the link below (DTLS AEAD). The length field and the strict frame
 * parser are what let random or truncated datagrams be dropped here, never half-processed.
 */
import { PACKET_FIRST_BYTE } from './constants.js';
import { decodeFrame } from './frame-codec.js';
import type { Frame } from './frames.js';
import { ByteReader, varintSize, writeVarint, writeVarintSized } from './varint.js';

/** Size of the payload-length field, in bytes (a 2-byte varint covers 16,383 bytes). */
export const PAYLOAD_LENGTH_FIELD_BYTES = 2;

/** Size of a packet header for packet number `packetNumber`. */
export function packetHeaderSize(packetNumber: number): number {
  return 1 + varintSize(packetNumber) + PAYLOAD_LENGTH_FIELD_BYTES;
}

/** Writes the header; returns the payload's start. The payload length is written by `finishPacket`. */
export function writePacketHeader(buf: Uint8Array, packetNumber: number): number {
  buf[0] = PACKET_FIRST_BYTE;
  return writeVarint(buf, 1, packetNumber) + PAYLOAD_LENGTH_FIELD_BYTES;
}

/** Fills in the payload-length field once the payload ends at `end`. */
export function finishPacket(buf: Uint8Array, payloadStart: number, end: number): void {
  writeVarintSized(buf, payloadStart - PAYLOAD_LENGTH_FIELD_BYTES, end - payloadStart, PAYLOAD_LENGTH_FIELD_BYTES);
}

/**
 * Decodes a whole packet into `frames` (cleared first) and returns its packet number,
 * or -1 if anything is malformed: wrong first byte, length mismatch, an unknown or broken
 * frame, or no frame at all. Nothing is applied before the whole packet has parsed.
 */
export function decodePacket(datagram: Uint8Array, reader: ByteReader, frames: Frame[]): number {
  frames.length = 0;
  if (datagram.length < 4 || datagram[0] !== PACKET_FIRST_BYTE) return -1;
  reader.reset(datagram, 1, datagram.length);
  const packetNumber = reader.varint();
  const payloadLength = reader.varint();
  if (reader.failed || payloadLength !== reader.remaining || payloadLength === 0) return -1;
  while (reader.remaining > 0) {
    const frame = decodeFrame(reader);
    if (frame === null) return -1;
    if (frame === undefined) break;
    frames.push(frame);
  }
  return frames.length === 0 ? -1 : packetNumber;
}
