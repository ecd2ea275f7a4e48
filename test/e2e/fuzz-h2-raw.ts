/**
 * HTTP/2 header blocks built by hand (RFC 9113 frames, RFC 7541 HPACK literals without
 * indexing or Huffman), for what node's http2 client refuses to send: upper-case and
 * empty names, any byte in names and values, pseudo-headers missing, repeated, unknown or
 * after regular fields, connection-specific fields, header lists spread over CONTINUATION
 * frames, DATA that disagrees with content-length. The oracle: every stream ends (a
 * response, RST_STREAM, or GOAWAY) within the deadline; the suite then checks the stack's
 * health and the tenant boundary at the services.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import { SeededRandom, type Stack } from '@hopgate/testkit';
import { FUZZ_HOSTS, FUZZ_PATHS } from './fuzz-routes.js';
import { CASE_DEADLINE_MS } from './fuzz-http1-runner.js';

/** RFC 9113 §3.4: the client connection preface. */
const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** RFC 9113 §4.1: frame header size, in bytes. */
const FRAME_HEADER_BYTES = 9;
/** RFC 9113 §4.2: SETTINGS_MAX_FRAME_SIZE's initial value, in bytes. */
const MAX_FRAME_PAYLOAD_BYTES = 16_384;

/** RFC 9113 §6: frame types. */
const FrameType = { data: 0, headers: 1, rstStream: 3, settings: 4, ping: 6, goaway: 7, windowUpdate: 8, continuation: 9 } as const;
/** RFC 9113 §6: flags. */
const Flag = { endStream: 0x1, ack: 0x1, endHeaders: 0x4 } as const;

type Field = [name: string, value: string];

export interface RawH2Case {
  index: number;
  label: string;
  fields: Field[];
  /** DATA sent after the header block (then END_STREAM), if any. */
  body: Buffer | undefined;
}

export type RawH2Outcome = 'response' | 'reset' | 'goaway' | 'closed';

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/** RFC 7541 §5.1: an integer with an N-bit prefix. */
function hpackInteger(value: number, prefixBits: number, firstByteFlags: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteFlags | value]);
  const bytes = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** RFC 7541 §6.2.2: literal header field without indexing, new name, no Huffman coding. */
export function hpackLiteral(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0x00]), hpackInteger(n.length, 7, 0), n, hpackInteger(v.length, 7, 0), v]);
}

/** HEADERS (+ CONTINUATION when the block is larger than one frame) for stream `id`. */
function headerFrames(id: number, block: Buffer, endStream: boolean): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0, first = true; first || at < block.length; first = false) {
    const chunk = block.subarray(at, at + MAX_FRAME_PAYLOAD_BYTES);
    at += chunk.length;
    const last = at >= block.length;
    const flags = (last ? Flag.endHeaders : 0) | (first && endStream ? Flag.endStream : 0);
    frames.push(frame(first ? FrameType.headers : FrameType.continuation, flags, id, chunk));
  }
  return Buffer.concat(frames);
}

const CONNECTION_FIELDS: Field[] = [['connection', 'keep-alive'], ['transfer-encoding', 'chunked'], ['te', 'gzip'], ['keep-alive', '5'], ['upgrade', 'websocket'], ['proxy-connection', 'x']];
const ODD_PATHS = ['', '*', 'x', '//a.hopgate.test/', 'http://b.hopgate.test/', '/a b', '/\r\n', `/${'p'.repeat(20_000)}`];
const ODD_METHODS = ['', 'get', 'G T', 'CONNECT', 'GET\r\n', 'PRI'];

function byteIn(rng: SeededRandom, text: string): { text: string; byte: number } {
  const byte = rng.chance(0.5) ? rng.pick([0x00, 0x0a, 0x0d, 0x20, 0x3a, 0x7f, 0x80, 0xff]) : rng.byte();
  const at = rng.int(text.length + 1);
  return { text: text.slice(0, at) + String.fromCharCode(byte) + text.slice(at), byte };
}

export function rawH2Case(seed: number, index: number): RawH2Case {
  const rng = SeededRandom.forCase(seed, 2_000_000 + index);
  const host = rng.pick(FUZZ_HOSTS);
  const fields: Field[] = [[':method', 'GET'], [':scheme', 'https'], [':path', rng.pick(FUZZ_PATHS)], [':authority', host], ['user-agent', 'raw-h2']];
  const labels = [`${host}${fields[2]![1]}`];
  let body: Buffer | undefined;
  const mutations = rng.between(1, 2);
  for (let m = 0; m < mutations; m++) {
    const i = rng.int(fields.length);
    const [name, value] = fields[i]!;
    switch (rng.int(12)) {
      case 0:
        fields[i] = [name.toUpperCase(), value];
        labels.push(`upper-case ${name}`);
        break;
      case 1: {
        const mutated = byteIn(rng, name);
        fields[i] = [mutated.text, value];
        labels.push(`byte 0x${mutated.byte.toString(16)} in the name ${name}`);
        break;
      }
      case 2: {
        const mutated = byteIn(rng, value);
        fields[i] = [name, mutated.text];
        labels.push(`byte 0x${mutated.byte.toString(16)} in the value of ${name}`);
        break;
      }
      case 3:
        fields.push(fields.splice(rng.int(4), 1)[0]!);
        labels.push('a pseudo-header after the regular fields');
        break;
      case 4:
        fields.splice(rng.int(4), 0, [rng.pick([':path', ':authority', ':method', ':scheme']), rng.pick(['/', host, 'POST', 'http', rng.pick(FUZZ_HOSTS)])]);
        labels.push('a repeated pseudo-header');
        break;
      case 5:
        labels.push(`no ${fields.splice(rng.int(4), 1)[0]![0]}`);
        break;
      case 6:
        fields.push([':foo', 'bar']);
        labels.push('unknown pseudo-header');
        break;
      case 7: {
        const field = rng.pick(CONNECTION_FIELDS);
        fields.push(field);
        labels.push(`connection-specific ${field[0]}`);
        break;
      }
      case 8: {
        const other = rng.pick(FUZZ_HOSTS);
        fields.push(['host', rng.chance(0.5) ? other : `${host}:443`]);
        labels.push(`host ${fields.at(-1)![1]} beside :authority`);
        break;
      }
      case 9: {
        const which = rng.chance(0.6) ? ':path' : ':method';
        const at = fields.findIndex(([n]) => n === which);
        const odd = which === ':path' ? rng.pick(ODD_PATHS) : rng.pick(ODD_METHODS);
        if (at >= 0) fields[at] = [which, odd];
        labels.push(`${which} ${JSON.stringify(odd.slice(0, 30))}`);
        break;
      }
      case 10: {
        const size = rng.pick([16_000, 33_000, 70_000]);
        fields.push(['x-big', 'b'.repeat(size)]);
        labels.push(`a ${size}-byte field (CONTINUATION frames)`);
        break;
      }
      default: {
        body = Buffer.from('hi');
        fields[0] = [':method', 'POST'];
        fields.push(['content-length', rng.pick(['5', '0', '-1', '2', 'x'])]);
        labels.push(`DATA "hi" with content-length ${fields.at(-1)![1]}`);
        break;
      }
    }
  }
  return { index, label: labels.join('; '), fields, body };
}

/** One raw HTTP/2 connection to the ingress; reconnects after a GOAWAY or a close. */
export class RawH2Client {
  private socket: tls.TLSSocket | undefined;
  private pending = Buffer.alloc(0);
  private nextStreamId = 1;
  private waiter: { id: number; done: (o: RawH2Outcome) => void } | undefined;
  private readonly ca: Buffer;

  constructor(private readonly stack: Stack) {
    this.ca = fs.readFileSync(stack.ca.certFile);
  }

  private async connect(): Promise<tls.TLSSocket> {
    if (this.socket && !this.socket.destroyed) return this.socket;
    const socket = tls.connect({ host: '127.0.0.1', port: this.stack.httpsPort, servername: 'a.hopgate.test', ca: this.ca, ALPNProtocols: ['h2'] });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => this.onData(socket, d));
    socket.on('close', () => this.waiter?.done('closed'));
    this.socket = socket;
    this.pending = Buffer.alloc(0);
    this.nextStreamId = 1;
    socket.write(Buffer.concat([CLIENT_PREFACE, frame(FrameType.settings, 0, 0, Buffer.alloc(0))]));
    return socket;
  }

  private onData(socket: tls.TLSSocket, data: Buffer): void {
    this.pending = Buffer.concat([this.pending, data]);
    while (this.pending.length >= FRAME_HEADER_BYTES) {
      const length = this.pending.readUIntBE(0, 3);
      if (this.pending.length < FRAME_HEADER_BYTES + length) return;
      const type = this.pending[3]!;
      const flags = this.pending[4]!;
      const id = this.pending.readUInt32BE(5) & 0x7fffffff;
      this.pending = this.pending.subarray(FRAME_HEADER_BYTES + length);
      if (type === FrameType.settings && !(flags & Flag.ack)) socket.write(frame(FrameType.settings, Flag.ack, 0, Buffer.alloc(0)));
      // Give back the connection window a response body used (RFC 9113 §6.9).
      if (type === FrameType.data && length > 0) {
        const increment = Buffer.alloc(4);
        increment.writeUInt32BE(length);
        socket.write(frame(FrameType.windowUpdate, 0, 0, increment));
      }
      const waiter = this.waiter;
      if (!waiter) continue;
      if (type === FrameType.goaway) waiter.done('goaway');
      else if (id === waiter.id && type === FrameType.rstStream) waiter.done('reset');
      else if (id === waiter.id && (type === FrameType.headers || type === FrameType.data || type === FrameType.continuation) && flags & Flag.endStream) waiter.done('response');
    }
  }

  /** Sends the case on a new stream; resolves how the stream ended, or undefined after CASE_DEADLINE_MS. */
  async run(testCase: RawH2Case): Promise<RawH2Outcome | undefined> {
    const socket = await this.connect();
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const block = Buffer.concat(testCase.fields.map(([n, v]) => hpackLiteral(n, v)));
    const outcome = new Promise<RawH2Outcome | undefined>((resolve) => {
      const timer = setTimeout(() => finish(undefined), CASE_DEADLINE_MS);
      const finish = (o: RawH2Outcome | undefined): void => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(o);
      };
      this.waiter = { id, done: finish };
    });
    socket.write(headerFrames(id, block, testCase.body === undefined));
    if (testCase.body !== undefined) socket.write(frame(FrameType.data, Flag.endStream, id, testCase.body));
    const result = await outcome;
    // A connection that saw GOAWAY (or closed) serves no new streams: the next case opens another.
    if (result !== 'response' && result !== 'reset') this.close();
    return result;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }
}
