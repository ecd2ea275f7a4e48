/**
 * A strict reader of the bytes an HTTP/1.1 server sent on one connection: splits them into
 * responses with RFC 9112's framing and reports the first thing that is not well formed.
 * Stricter than a browser on purpose (the fuzz suite's oracle): CRLF line ends only, header
 * names are tokens (RFC 9110 §5.1), values without CR, LF, NUL or other controls but HTAB
 * (RFC 9110 §5.5), no obs-fold (RFC 9112 §5.2), never both Content-Length and
 * Transfer-Encoding (RFC 9112 §6.2), chunked bodies exactly framed (RFC 9112 §7.1).
 */

/** One response read off the connection. */
export interface ReadResponse {
  status: number;
  /** Name/value pairs, names as sent. */
  headers: Array<[string, string]>;
  body: Buffer;
  /** Whether it is an interim (1xx other than 101) answer. */
  interim: boolean;
}

/** What a response answers: its request's method, and whether that request asked to upgrade. */
export interface AnsweredRequest {
  method: string;
  upgrade: boolean;
}

export interface ReadResult {
  /** Whole responses, interim ones included, in order. */
  responses: ReadResponse[];
  /** Final (non-1xx, or 101) responses among them. */
  finals: number;
  /** The first malformation, if any (reading stops there). */
  problem: string | undefined;
  /** More bytes are needed to finish the current response (only when the connection is open). */
  incomplete: boolean;
  /** Bytes after a 101 answer: the upgraded protocol's, not HTTP's. */
  tunnel: Buffer;
}

/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 §5.5 field-value: visible chars, SP, HTAB and obs-text; no CR, LF, NUL or other controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** RFC 9112 §4 status-line, as latin1 text. */
const STATUS_LINE = /^HTTP\/1\.1 (\d{3}) [\t\x20-\x7e\x80-\xff]*$/;
const CRLF = '\r\n';

/** The value of header `name` in a response (case-insensitive), first occurrence. */
export function responseHeader(response: ReadResponse, name: string): string | undefined {
  return response.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

/** Whether a response announces the connection's end (`Connection: close`). */
export function closesConnection(response: ReadResponse): boolean {
  return response.headers.some(([n, v]) => n.toLowerCase() === 'connection' && v.toLowerCase().split(',').some((t) => t.trim() === 'close'));
}

/**
 * Reads `bytes` (everything received so far) as answers to `requests`, in order. `closed`:
 * the server closed the connection after these bytes (a close-delimited body ends there,
 * and a response cut short is a problem rather than incomplete).
 */
export function readResponses(bytes: Buffer, requests: readonly AnsweredRequest[], closed: boolean): ReadResult {
  const text = bytes.toString('latin1');
  const responses: ReadResponse[] = [];
  let finals = 0;
  let at = 0;
  const result = (problem: string | undefined, incomplete = false, tunnel: Buffer = Buffer.alloc(0)): ReadResult => ({ responses, finals, problem, incomplete, tunnel });
  const cut = (what: string): ReadResult => (closed ? result(`connection closed inside ${what} at byte ${at}`) : result(undefined, true));
  while (at < text.length) {
    if (finals === requests.length) return result(`${text.length - at} bytes after the answer to the last request: ${JSON.stringify(text.slice(at, at + 120))}`);
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) {
      const bare = bareLineEnd(text, at, text.length);
      if (bare !== undefined) return result(bare);
      return cut('a response head');
    }
    const bare = bareLineEnd(text, at, headEnd + 2);
    if (bare !== undefined) return result(bare);
    const lines = text.slice(at, headEnd).split(CRLF);
    const statusMatch = STATUS_LINE.exec(lines[0] ?? '');
    if (!statusMatch) return result(`not an HTTP/1.1 status line at byte ${at}: ${JSON.stringify((lines[0] ?? '').slice(0, 120))}`);
    const status = Number(statusMatch[1]);
    if (status < 100 || status > 599) return result(`status ${status} outside 100-599`);
    const headers: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      if (line.startsWith(' ') || line.startsWith('\t')) return result(`obs-fold in the response head: ${JSON.stringify(line.slice(0, 80))}`);
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!TOKEN.test(name)) return result(`header name is not a token: ${JSON.stringify(line.slice(0, 80))}`);
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
      if (!FIELD_VALUE.test(value)) return result(`control character in the value of ${name}: ${JSON.stringify(value.slice(0, 80))}`);
      headers.push([name, value]);
    }
    at = headEnd + 4;
    const request = requests[finals];
    if (status === 101) {
      responses.push({ status, headers, body: Buffer.alloc(0), interim: false });
      finals += 1;
      if (!request?.upgrade) return result(`101 answer to request ${finals} that did not ask to upgrade`);
      return result(undefined, false, bytes.subarray(at));
    }
    if (status < 200) {
      responses.push({ status, headers, body: Buffer.alloc(0), interim: true });
      continue;
    }
    if (!request) return result(`response ${finals + 1} (status ${status}) with no request left to answer`);
    const lengths = headers.filter(([n]) => n.toLowerCase() === 'content-length').map(([, v]) => v);
    const codings = headers.filter(([n]) => n.toLowerCase() === 'transfer-encoding').map(([, v]) => v);
    if (lengths.length > 0 && codings.length > 0) return result(`response ${finals + 1} has both Content-Length and Transfer-Encoding`);
    let body: Buffer;
    if (request.method === 'HEAD' || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (codings.length > 0) {
      if (codings.join(',').toLowerCase().replace(/\s/g, '') !== 'chunked') return result(`response ${finals + 1} Transfer-Encoding ${JSON.stringify(codings)}`);
      const chunked = readChunked(text, at);
      if (chunked === 'incomplete') return cut('a chunked body');
      if (typeof chunked === 'string') return result(`response ${finals + 1}: ${chunked}`);
      body = Buffer.from(chunked.body, 'latin1');
      at = chunked.end;
    } else if (lengths.length > 0) {
      if (new Set(lengths).size !== 1 || !/^\d{1,15}$/.test(lengths[0]!)) return result(`response ${finals + 1} Content-Length ${JSON.stringify(lengths)}`);
      const length = Number(lengths[0]);
      if (text.length - at < length) return cut(`a body of ${length} bytes`);
      body = bytes.subarray(at, at + length);
      at += length;
    } else {
      // RFC 9112 §6.3 (8): the body runs to the close.
      if (!closed) return result(undefined, true);
      body = bytes.subarray(at);
      at = text.length;
    }
    responses.push({ status, headers, body, interim: false });
    finals += 1;
  }
  return result(undefined);
}

/** A CR not followed by LF, or an LF not preceded by CR, in text[from, to). */
function bareLineEnd(text: string, from: number, to: number): string | undefined {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 && i + 1 < text.length && text.charCodeAt(i + 1) !== 10) return `bare CR in the response head at byte ${i}`;
    if (c === 10 && (i === 0 || text.charCodeAt(i - 1) !== 13)) return `bare LF in the response head at byte ${i}`;
  }
  return undefined;
}

/** RFC 9112 §7.1: chunks, a last chunk, trailers, CRLF. */
function readChunked(text: string, from: number): { body: string; end: number } | 'incomplete' | string {
  let at = from;
  let body = '';
  for (;;) {
    const lineEnd = text.indexOf(CRLF, at);
    if (lineEnd < 0) return 'incomplete';
    const sizeText = text.slice(at, lineEnd).split(';')[0]!;
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return `bad chunk size line ${JSON.stringify(text.slice(at, Math.min(lineEnd, at + 40)))}`;
    const size = parseInt(sizeText, 16);
    at = lineEnd + 2;
    if (size === 0) break;
    if (text.length < at + size + 2) return 'incomplete';
    body += text.slice(at, at + size);
    at += size;
    if (text.slice(at, at + 2) !== CRLF) return 'chunk data not followed by CRLF';
    at += 2;
  }
  for (;;) {
    const lineEnd = text.indexOf(CRLF, at);
    if (lineEnd < 0) return 'incomplete';
    const line = text.slice(at, lineEnd);
    at = lineEnd + 2;
    if (line === '') return { body, end: at };
    if (!TOKEN.test(line.slice(0, Math.max(0, line.indexOf(':'))))) return `bad trailer line ${JSON.stringify(line.slice(0, 40))}`;
  }
}
