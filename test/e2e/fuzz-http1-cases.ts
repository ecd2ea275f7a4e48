/**
 * The HTTP/1.1 case generator of the fuzz suite: valid requests (GET, HEAD, POST with a
 * length or chunked, WebSocket upgrades) mutated in the ways a hostile client would, as raw
 * bytes. Each case is a pure function of (seed, index). Strings here are byte strings: one
 * char per byte (latin1), so any byte value 0-255 can sit anywhere.
 */
import { SeededRandom } from '@hopgate/testkit';
import { FUZZ_HOSTS, FUZZ_PATHS } from './fuzz-routes.js';
import { NODE_MAX_HEADERS_COUNT } from './fuzz-http1-oracle.js';

/** The ingress's default HOPGATE_MAX_HEADER_BYTES, in bytes (node's parser limit on the edge). */
export const EDGE_MAX_HEADER_BYTES = 32 * 1024;
/** node's own default request head limit (the origin side of a default node service), in bytes. */
export const NODE_DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
/** The relay's limit on an encoded request head (libs/relay MAX_HEAD_BYTES), in bytes. */
export const RELAY_MAX_HEAD_BYTES = 64 * 1024;
/** Header pairs node hands over in one group before the head completes. */
const NODE_HEADER_FLUSH_PAIRS = 32;
/** Cases 0..BYTE_SWEEP_CASES-1 put every byte value 0-255 into a header value, then into a name. */
export const BYTE_SWEEP_CASES = 512;

export interface Http1Case {
  index: number;
  /** What was done, for the failure message. */
  label: string;
  bytes: Buffer;
  /** Close our side (FIN) after the bytes. */
  endAfter: boolean;
  /** Over TLS (true) or the plain HTTP port (false). */
  tls: boolean;
  /** The name to send in SNI. */
  servername: string;
}

type Header = [name: string, value: string];

/** A request before serialisation (byte strings). */
interface RequestModel {
  method: string;
  target: string;
  version: string;
  headers: Header[];
  /** Body bytes as sent (already chunk-encoded when chunked). */
  body: string;
}

/** Byte values worth hitting more often than chance would. */
const INTERESTING_BYTES = [0x00, 0x01, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1f, 0x20, 0x22, 0x28, 0x2c, 0x3a, 0x3b, 0x3d, 0x40, 0x5c, 0x7f, 0x80, 0x85, 0xa0, 0xc0, 0xff];
const METHODS_ODD = ['get', 'Get', 'GETT', 'G E T', 'CONNECT', 'TRACE', 'PRI', 'PATCH', 'PURGE', 'M-SEARCH', 'PROPFIND', 'ACL', 'SOURCE', 'OPTIONS', 'DELETE', 'PUT', 'QUERY', 'X', 'GET\x00', 'GE\x7fT', 'G\xffT', '', ' GET', 'GET\t'];
const VERSIONS_ODD = ['HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/3', 'http/1.1', 'HTTP/11', 'HTTP/1.1 ', 'HTTP/1.1\t', '', 'HTTP/1.1x', 'HTTP/9.9'];
const CONTENT_LENGTHS_ODD = ['-1', '+5', ' 5', '5 5', '0x10', '99999999999999999999', '1e3', '', '5,5', '5, 6', '00005', '\t5', '5\x00'];
const TRANSFER_CODINGS_ODD = ['chunked, gzip', 'gzip, chunked', 'chunked, chunked', 'xchunked', 'Chunked', 'chunked\t', 'identity', 'chunked;q=1', ' chunked', 'gzip', 'chunked,'];
const CONNECTIONS_ODD = ['close', 'keep-alive', 'upgrade', 'close, upgrade', 'host', 'x-fuzz, transfer-encoding', 'content-length', 'Keep-Alive, Upgrade', ''];
const EXPECTS = ['100-continue', '100-Continue', '200-ok', '', 'foo'];
const FILL_BYTES = ['a', '"', '\\', '\t', '\xff', '\x80', ' ', '%', '\xc3\xa9'];

function sweepByteName(value: number): string {
  return `0x${value.toString(16).padStart(2, '0')}`;
}

function ch(code: number): string {
  return String.fromCharCode(code);
}

function interestingByte(rng: SeededRandom): number {
  return rng.chance(0.4) ? rng.pick(INTERESTING_BYTES) : rng.byte();
}

function randomHost(rng: SeededRandom): string {
  return rng.pick(FUZZ_HOSTS);
}

function chunkEncode(rng: SeededRandom, data: string): string {
  let out = '';
  let at = 0;
  while (at < data.length) {
    const size = Math.min(data.length - at, rng.between(1, 700));
    out += `${size.toString(16)}\r\n${data.slice(at, at + size)}\r\n`;
    at += size;
  }
  return `${out}0\r\n\r\n`;
}

function randomBody(rng: SeededRandom, max: number): string {
  return rng.bytes(rng.between(0, max)).toString('latin1');
}

function baseRequest(rng: SeededRandom, host: string): { model: RequestModel; kind: string } {
  const target = rng.pick(FUZZ_PATHS);
  const headers: Header[] = [
    ['Host', host],
    ['User-Agent', 'hopgate-fuzz'],
    ['Accept', '*/*'],
  ];
  const kind = rng.pick(['get', 'get', 'head', 'post', 'post', 'chunked', 'upgrade', 'expect']);
  switch (kind) {
    case 'head':
      return { kind, model: { method: 'HEAD', target, version: 'HTTP/1.1', headers, body: '' } };
    case 'post': {
      const body = randomBody(rng, 3_000);
      headers.push(['Content-Type', 'application/octet-stream'], ['Content-Length', String(body.length)]);
      return { kind, model: { method: rng.pick(['POST', 'PUT', 'PATCH']), target, version: 'HTTP/1.1', headers, body } };
    }
    case 'chunked': {
      headers.push(['Transfer-Encoding', 'chunked']);
      return { kind, model: { method: 'POST', target, version: 'HTTP/1.1', headers, body: chunkEncode(rng, randomBody(rng, 3_000)) } };
    }
    case 'upgrade':
      headers.push(['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']);
      return { kind, model: { method: 'GET', target, version: 'HTTP/1.1', headers, body: '' } };
    case 'expect': {
      const body = randomBody(rng, 500);
      headers.push(['Expect', '100-continue'], ['Content-Length', String(body.length)]);
      return { kind, model: { method: 'POST', target, version: 'HTTP/1.1', headers, body } };
    }
    default:
      return { kind: 'get', model: { method: 'GET', target, version: 'HTTP/1.1', headers, body: '' } };
  }
}

function serialize(model: RequestModel): string {
  let head = `${model.method} ${model.target} ${model.version}\r\n`;
  for (const [name, value] of model.headers) head += `${name}: ${value}\r\n`;
  return `${head}\r\n${model.body}`;
}

function headLength(model: RequestModel): number {
  return serialize({ ...model, body: '' }).length;
}

function setHeader(model: RequestModel, name: string, value: string): void {
  const i = model.headers.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
  if (i >= 0) model.headers[i] = [model.headers[i]![0], value];
  else model.headers.push([name, value]);
}

function insertAt(s: string, at: number, insert: string): string {
  return s.slice(0, at) + insert + s.slice(at);
}

/** One structural mutation of the request; returns its label. */
type Mutation = (rng: SeededRandom, model: RequestModel) => string;

const MUTATIONS: Array<{ weight: number; apply: Mutation }> = [
  {
    weight: 6,
    apply: (rng, model) => {
      const b = interestingByte(rng);
      const i = rng.int(model.headers.length);
      const [name, value] = model.headers[i]!;
      model.headers[i] = [insertAt(name, rng.int(name.length + 1), ch(b)), value];
      return `byte ${sweepByteName(b)} in header name ${JSON.stringify(name)}`;
    },
  },
  {
    weight: 6,
    apply: (rng, model) => {
      const b = interestingByte(rng);
      const i = rng.int(model.headers.length);
      const [name, value] = model.headers[i]!;
      model.headers[i] = [name, insertAt(value, rng.int(value.length + 1), ch(b))];
      return `byte ${sweepByteName(b)} in the value of ${JSON.stringify(name)}`;
    },
  },
  {
    weight: 2,
    apply: (rng, model) => {
      const i = rng.int(model.headers.length);
      const [name, value] = model.headers[i]!;
      model.headers[i] = [name, `${value}\r\n${rng.pick([' ', '\t', '  '])}folded`];
      return `obs-fold in ${JSON.stringify(name)}`;
    },
  },
  {
    weight: 2,
    apply: (rng, model) => {
      const i = rng.int(model.headers.length);
      const [name, value] = model.headers[i]!;
      const ending = rng.pick(['\r', '\n', '\r\r\n', '\n\r', '\x00\r\n']);
      model.headers[i] = [name, `${value}${ending}X-Smuggled: yes`];
      return `line end ${JSON.stringify(ending)} inside ${JSON.stringify(name)}`;
    },
  },
  {
    weight: 3,
    apply: (rng, model) => {
      const count = rng.pick([NODE_HEADER_FLUSH_PAIRS - 1, NODE_HEADER_FLUSH_PAIRS, NODE_HEADER_FLUSH_PAIRS + 1, 64, 100, 500, NODE_MAX_HEADERS_COUNT - 1, NODE_MAX_HEADERS_COUNT, NODE_MAX_HEADERS_COUNT + 1, 3_000]);
      const same = rng.chance(0.3);
      for (let i = 0; i < count; i++) model.headers.push([same ? 'X-Same' : `X-H${i}`, rng.chance(0.9) ? `${i}` : '']);
      if (rng.chance(0.2)) model.headers.push(['Host', randomHost(rng)]);
      return `${count} extra headers${same ? ' of one name' : ''}`;
    },
  },
  {
    weight: 4,
    apply: (rng, model) => {
      // A head whose size sits right around one of the limits, filled with one byte value
      // (some grow when escaped into the JSON request head: `"`, `\`, HTAB, bytes >= 0x80).
      const limit = rng.pick([NODE_DEFAULT_MAX_HEADER_BYTES, EDGE_MAX_HEADER_BYTES, EDGE_MAX_HEADER_BYTES, RELAY_MAX_HEAD_BYTES / 2]);
      const delta = rng.pick([-1_000, -200, -64, -3, -2, -1, 0, 1, 2, 64]);
      const fill = rng.pick(FILL_BYTES);
      const name = rng.pick(['X-Big', 'Cookie', 'Referer', 'User-Agent']);
      const room = limit + delta - headLength(model) - name.length - 4;
      const value = fill.repeat(Math.max(0, Math.ceil(room / fill.length))).slice(0, Math.max(0, room));
      model.headers.push([name, value]);
      return `head of ${headLength(model)} bytes (limit ${limit}${delta >= 0 ? '+' : ''}${delta}) filled with ${JSON.stringify(fill)} in ${name}`;
    },
  },
  {
    weight: 2,
    apply: (rng, model) => {
      const parts = rng.between(2, 40);
      for (let i = 0; i < parts; i++) model.headers.push([rng.pick(['X-Long', `X-Long-${i}`]), rng.pick(FILL_BYTES).repeat(rng.between(100, 2_000))]);
      return `${parts} long headers (${headLength(model)} bytes)`;
    },
  },
  {
    weight: 2,
    apply: (rng, model) => {
      const length = rng.pick([8_000, 16_383, 16_384, 32_700, 32_768, 40_000, 65_536]);
      const fill = rng.pick(['a', '%2e', '/', '"', '\xff']);
      model.target = `/${fill.repeat(Math.ceil(length / fill.length)).slice(0, length)}`;
      return `request target of ${length} bytes of ${JSON.stringify(fill)}`;
    },
  },
  {
    weight: 4,
    apply: (rng, model) => {
      const method = rng.chance(0.15) ? 'X'.repeat(rng.pick([100, 1_000, 20_000])) : rng.chance(0.15) ? rng.bytes(rng.between(1, 8)).toString('latin1') : rng.pick(METHODS_ODD);
      model.method = method;
      if (method === 'CONNECT' && rng.chance(0.7)) model.target = `${randomHost(rng)}:443`;
      return `method ${JSON.stringify(method.slice(0, 40))}`;
    },
  },
  {
    weight: 5,
    apply: (rng, model) => {
      const host = randomHost(rng);
      const other = randomHost(rng);
      const targets = [
        `http://${host}/`,
        `https://${host}${rng.pick(FUZZ_PATHS)}`,
        `http://${host}:80${rng.pick(FUZZ_PATHS)}`,
        `http://user:pass@${host}/`,
        `http://${host}@${other}/`,
        `HTTP://${host.toUpperCase()}/api`,
        `http://${host}`,
        `http://${host}?q=1`,
        `ftp://${host}/`,
        `//${host}/`,
        `${host}:443`,
        `${host}`,
        '*',
        '//',
        '/..',
        '/../api',
        '/api/../only',
        '/%2e%2e/api',
        '/%2E%2E%2Fapi',
        '/api%2f..%2f',
        '/%00',
        '/a\\b',
        '\\api',
        '/api\x00',
        '/only/../../api',
        '/?',
        '/#',
        '',
        ' /',
        '/ /',
        '/\t',
        `/${'é'}`,
        '/\xff\xfe',
        `/${'../'.repeat(50)}`,
      ];
      model.target = rng.pick(targets);
      return `target ${JSON.stringify(model.target)}`;
    },
  },
  {
    weight: 5,
    apply: (rng, model) => {
      const host = randomHost(rng);
      const other = randomHost(rng);
      const hosts = [
        '',
        ' ',
        `user@${host}`,
        `user:pw@${host}`,
        ` ${host} `,
        `${host} ${other}`,
        `${host},${other}`,
        `${host}\xff`,
        `${host.slice(0, 3)}\xc3\xa9${host.slice(3)}`,
        '[::1]',
        '[::1]:443',
        `[${host}]`,
        `${host}:99999`,
        `${host}:-1`,
        `${host}:`,
        `${host}:abc`,
        `${host}.`,
        `${host}..`,
        host.toUpperCase(),
        `${host}:443:443`,
        `${host}/api`,
        `${host}?x`,
        `${host}#x`,
        '127.0.0.1',
        `*.${host}`,
        `${host}\t`,
        `%61.hopgate.test`,
      ];
      const choice = rng.int(4);
      if (choice === 0) {
        model.headers = model.headers.filter(([n]) => n.toLowerCase() !== 'host');
        return 'no Host';
      }
      if (choice === 1) {
        model.headers.push([rng.pick(['Host', 'host', 'HOST']), rng.chance(0.5) ? other : host]);
        return `two Host headers (${host}, ${other})`;
      }
      const value = rng.pick(hosts);
      setHeader(model, 'Host', value);
      return `Host ${JSON.stringify(value)}`;
    },
  },
  {
    weight: 2,
    apply: (rng, model) => {
      model.version = rng.pick(VERSIONS_ODD);
      return `version ${JSON.stringify(model.version)}`;
    },
  },
  {
    weight: 5,
    apply: (rng, model) => {
      const body = randomBody(rng, 200);
      const choice = rng.int(7);
      model.headers = model.headers.filter(([n]) => !['content-length', 'transfer-encoding'].includes(n.toLowerCase()));
      model.method = rng.pick(['POST', 'GET', 'PUT']);
      switch (choice) {
        case 0:
          model.headers.push(['Content-Length', String(body.length)], ['Transfer-Encoding', 'chunked']);
          model.body = chunkEncode(rng, body);
          return 'Content-Length and Transfer-Encoding: chunked';
        case 1:
          model.headers.push(['Content-Length', String(body.length)], ['Content-Length', String(body.length + rng.pick([0, 1, 5]))]);
          model.body = body;
          return 'two Content-Length headers';
        case 2: {
          const value = rng.pick(CONTENT_LENGTHS_ODD);
          model.headers.push(['Content-Length', value]);
          model.body = body;
          return `Content-Length ${JSON.stringify(value)}`;
        }
        case 3: {
          const value = rng.pick(TRANSFER_CODINGS_ODD);
          model.headers.push(['Transfer-Encoding', value]);
          model.body = rng.chance(0.5) ? chunkEncode(rng, body) : body;
          return `Transfer-Encoding ${JSON.stringify(value)}`;
        }
        case 4: {
          const size = rng.pick(['fffffffffffffffff', '-1', ' 5', '5 ', '0x5', 'g', '', `5;${'e'.repeat(rng.pick([100, 20_000]))}`, '5;a=b', '00000000000000000005']);
          model.headers.push(['Transfer-Encoding', 'chunked']);
          model.body = `${size}\r\nhello\r\n0\r\n\r\n`;
          return `chunk size line ${JSON.stringify(size.slice(0, 30))}`;
        }
        case 5: {
          // A body longer or shorter than announced.
          const announced = Math.max(0, body.length + rng.pick([-50, -1, 1, 50]));
          model.headers.push(['Content-Length', String(announced)]);
          model.body = body;
          return `Content-Length ${announced} with ${body.length} body bytes`;
        }
        default:
          model.headers.push(['Transfer-Encoding', 'chunked']);
          model.body = `${chunkEncode(rng, body).slice(0, -2)}${rng.pick(['X-Trailer: 1\r\n\r\n', 'Bad Trailer\r\n\r\n', '\r\n', 'Host: b.hopgate.test\r\n\r\n'])}`;
          return 'chunked with trailers';
      }
    },
  },
  {
    weight: 2,
    apply: (rng, model) => {
      const value = rng.pick(EXPECTS);
      setHeader(model, 'Expect', value);
      return `Expect ${JSON.stringify(value)}`;
    },
  },
  {
    weight: 2,
    apply: (rng, model) => {
      const value = rng.pick(CONNECTIONS_ODD);
      setHeader(model, 'Connection', value);
      if (rng.chance(0.5)) setHeader(model, 'Upgrade', rng.pick(['websocket', 'h2c', 'WebSocket', 'websocket, h2c', '']));
      return `Connection ${JSON.stringify(value)}`;
    },
  },
];

const TOTAL_WEIGHT = MUTATIONS.reduce((sum, model) => sum + model.weight, 0);

function pickMutation(rng: SeededRandom): Mutation {
  let roll = rng.int(TOTAL_WEIGHT);
  for (const model of MUTATIONS) {
    roll -= model.weight;
    if (roll < 0) return model.apply;
  }
  return MUTATIONS[0]!.apply;
}

/** Byte-level damage to the serialised request; returns the new bytes and a label. */
function damageBytes(rng: SeededRandom, bytes: string): { bytes: string; label: string } {
  const at = rng.int(bytes.length + 1);
  switch (rng.int(6)) {
    case 0:
      return { bytes: bytes.slice(0, at) + ch(rng.byte()) + bytes.slice(at + 1), label: `byte ${at} replaced` };
    case 1:
      return { bytes: insertAt(bytes, at, ch(interestingByte(rng))), label: `byte inserted at ${at}` };
    case 2:
      return { bytes: bytes.slice(0, at) + bytes.slice(at + 1), label: `byte ${at} deleted` };
    case 3: {
      const crlfs: number[] = [];
      for (let i = bytes.indexOf('\r\n'); i >= 0; i = bytes.indexOf('\r\n', i + 2)) crlfs.push(i);
      if (crlfs.length === 0) return { bytes, label: 'no CRLF to damage' };
      const i = rng.pick(crlfs);
      const replacement = rng.pick(['\n', '\r', '\n\r', '\r\r\n', '\r\n\r\n', ' \r\n']);
      return { bytes: bytes.slice(0, i) + replacement + bytes.slice(i + 2), label: `CRLF at ${i} -> ${JSON.stringify(replacement)}` };
    }
    case 4: {
      const length = rng.between(1, 64);
      return { bytes: insertAt(bytes, at, bytes.slice(at, at + length)), label: `${length} bytes at ${at} duplicated` };
    }
    default:
      return { bytes: insertAt(bytes, at, '\x00'.repeat(rng.between(1, 8))), label: `NULs at ${at}` };
  }
}

/** Case `index` of a run with `seed`. */
export function http1Case(seed: number, index: number): Http1Case {
  const rng = SeededRandom.forCase(seed, index);
  const host = randomHost(rng);
  const tls = rng.chance(0.5);
  const servername = rng.pick(FUZZ_HOSTS.filter((h) => !h.startsWith('x.y.')));
  const labels: string[] = [];
  const { model, kind } = baseRequest(rng, host);
  labels.push(`${kind} ${host}`);
  if (index < BYTE_SWEEP_CASES) {
    // The sweep: byte value (index % 256) in a value (first half) or a name (second half).
    const b = index % 256;
    const i = rng.int(model.headers.length);
    const [name, value] = model.headers[i]!;
    if (index < 256) {
      model.headers[i] = [name, insertAt(value, rng.int(value.length + 1), ch(b))];
      labels.push(`sweep: byte ${sweepByteName(b)} in the value of ${JSON.stringify(name)}`);
    } else {
      model.headers[i] = [insertAt(name, rng.int(name.length + 1), ch(b)), value];
      labels.push(`sweep: byte ${sweepByteName(b)} in header name ${JSON.stringify(name)}`);
    }
  } else if (rng.chance(0.9)) {
    const count = rng.chance(0.65) ? 1 : rng.chance(0.75) ? 2 : 3;
    for (let i = 0; i < count; i++) labels.push(pickMutation(rng)(rng, model));
  }
  let bytes = serialize(model);
  if (rng.chance(0.08)) {
    const damaged = damageBytes(rng, bytes);
    bytes = damaged.bytes;
    labels.push(damaged.label);
  }
  if (rng.chance(0.08)) {
    // Pipelined: the same request again, or another valid one after it.
    const again = rng.chance(0.5) ? bytes : serialize(baseRequest(rng, randomHost(rng)).model);
    const copies = rng.between(1, 2);
    for (let i = 0; i < copies; i++) bytes += again;
    labels.push(`${copies} more request(s) pipelined`);
  }
  let endAfter = false;
  if (rng.chance(0.06)) {
    const at = rng.int(bytes.length + 1);
    bytes = bytes.slice(0, at);
    endAfter = true;
    labels.push(`cut at byte ${at}, then FIN`);
  }
  return { index, label: labels.join('; '), bytes: Buffer.from(bytes, 'latin1'), endAfter, tls, servername };
}
