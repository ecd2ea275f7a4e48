/**
 * A raw HTTP/2 client over TLS (ALPN h2) that writes frames by hand (RFC 9113 §4, §6), for the
 * clients a real one never is: streams above the advertised cap, HEADERS and RST_STREAM in one
 * write. Header blocks are HPACK literals without indexing or Huffman (RFC 7541 §6.2.2), so
 * every field is spelled out; what the server sends is split into frames as it arrives.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import { waitFor, type Stack } from '@hopgate/testkit';
import { ANSWER_TIMEOUT_MS } from './edge-helpers.js';

/** Frame types (RFC 9113 §6). */
export const H2FrameType = { Data: 0x0, Headers: 0x1, RstStream: 0x3, Settings: 0x4, Ping: 0x6, GoAway: 0x7, WindowUpdate: 0x8 } as const;
/** Flags (RFC 9113 §6): END_STREAM on DATA/HEADERS, ACK on SETTINGS/PING (same bit), END_HEADERS. */
export const H2Flag = { EndStream: 0x1, Ack: 0x1, EndHeaders: 0x4 } as const;
/** SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §6.5.2). */
export const H2_SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
/** The client connection preface (RFC 9113 §3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Frame header: length(3) type(1) flags(1) stream id(4) (RFC 9113 §4.1). */
const FRAME_HEADER_BYTES = 9;
/** HPACK static table indexes of `:status` values (RFC 7541 Appendix A), by first header-block byte (indexed field). */
const HPACK_INDEXED_STATUS: ReadonlyMap<number, number> = new Map([
  [0x88, 200],
  [0x89, 204],
  [0x8a, 206],
  [0x8b, 304],
  [0x8c, 400],
  [0x8d, 404],
  [0x8e, 500],
]);
/** Longest field name or value this encoder writes (a one-byte HPACK length prefix). */
const MAX_LITERAL_BYTES = 126;

export interface H2Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export function h2Frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

function literal(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length > MAX_LITERAL_BYTES) throw new Error(`field of ${bytes.length} bytes is too long for this encoder`);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** A HEADERS frame with the whole header block (END_HEADERS), END_STREAM unless `endStream` is false. */
export function h2Headers(streamId: number, fields: ReadonlyArray<readonly [string, string]>, endStream = true): Buffer {
  const block = Buffer.concat(fields.map(([name, value]) => Buffer.concat([Buffer.from([0x00]), literal(name), literal(value)])));
  return h2Frame(H2FrameType.Headers, H2Flag.EndHeaders | (endStream ? H2Flag.EndStream : 0), streamId, block);
}

/** The fields of a GET request (RFC 9113 §8.3.1). */
export function h2Get(host: string, path: string): Array<[string, string]> {
  return [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':authority', host],
    [':path', path],
  ];
}

export function h2RstStream(streamId: number, code: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return h2Frame(H2FrameType.RstStream, 0, streamId, payload);
}

/** The error code of a RST_STREAM frame (RFC 9113 §6.4) or a GOAWAY frame (RFC 9113 §6.8). */
export function h2ErrorCode(frame: H2Frame): number {
  return frame.payload.readUInt32BE(frame.type === H2FrameType.GoAway ? 4 : 0);
}

/** The `:status` of a response HEADERS frame when node sent it as an indexed static field, else undefined. */
export function h2Status(frame: H2Frame): number | undefined {
  return frame.payload.length > 0 ? HPACK_INDEXED_STATUS.get(frame.payload.readUInt8(0)) : undefined;
}

/** A TLS connection speaking HTTP/2 frames by hand; records every frame the server sends. */
export class RawH2Connection {
  readonly frames: H2Frame[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => (this.ended = true));
    socket.on('error', () => undefined);
  }

  /** Connects (SNI = host, ALPN h2) and sends the preface with an empty SETTINGS frame; SETTINGS are not acknowledged. */
  static open(stack: Stack, host: string): Promise<RawH2Connection> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: stack.httpsPort, servername: host, ca: fs.readFileSync(stack.ca.certFile), ALPNProtocols: ['h2'] }, () => {
        if (socket.alpnProtocol !== 'h2') {
          socket.destroy();
          reject(new Error(`ALPN chose ${String(socket.alpnProtocol)}, not h2`));
          return;
        }
        const conn = new RawH2Connection(socket);
        conn.write(Buffer.concat([H2_PREFACE, h2Frame(H2FrameType.Settings, 0, 0)]));
        resolve(conn);
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Frames of `type` received so far (on `streamId` if given). */
  received(type: number, streamId?: number): H2Frame[] {
    return this.frames.filter((f) => f.type === type && (streamId === undefined || f.streamId === streamId));
  }

  /** The server's first SETTINGS frame, as id -> value (waits for it). */
  async serverSettings(): Promise<Map<number, number>> {
    const frame = await waitFor('the server SETTINGS frame', () => this.frames.find((f) => f.type === H2FrameType.Settings && (f.flags & H2Flag.Ack) === 0), ANSWER_TIMEOUT_MS);
    const settings = new Map<number, number>();
    for (let at = 0; at + 6 <= frame.payload.length; at += 6) settings.set(frame.payload.readUInt16BE(at), frame.payload.readUInt32BE(at + 2));
    return settings;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    while (this.pending.length - at >= FRAME_HEADER_BYTES) {
      const length = this.pending.readUIntBE(at, 3);
      if (this.pending.length - at < FRAME_HEADER_BYTES + length) break;
      this.frames.push({
        type: this.pending.readUInt8(at + 3),
        flags: this.pending.readUInt8(at + 4),
        streamId: this.pending.readUInt32BE(at + 5) & 0x7fff_ffff,
        payload: Buffer.from(this.pending.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length)),
      });
      at += FRAME_HEADER_BYTES + length;
    }
    this.pending = this.pending.subarray(at);
  }
}
