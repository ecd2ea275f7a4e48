/**
 * Helpers of the edge tests (http2.test.ts, http-semantics.test.ts): an origin that records
 * what reached it and whether each request finished, an HTTP/2 client of the stack, and a
 * raw TLS connection that writes bytes by hand.
 */
import http from 'node:http';
import http2 from 'node:http2';
import crypto from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { EventEmitter } from 'node:events';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { answerSha256, waitFor, type Stack } from '@hopgate/testkit';

/** Time a test waits for an expected answer or event, in ms (generous: the machine is shared). */
export const ANSWER_TIMEOUT_MS = 20_000;

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  /** Set once the origin saw the whole request body. */
  complete: boolean;
  /** Set when the request's connection closed before the origin finished with it. */
  closedEarly: boolean;
}

export interface EdgeOrigin {
  address: string;
  seen: SeenRequest[];
  /** Emit 'seen' to let `/sse` write its next event. */
  sse: EventEmitter;
  close(): Promise<void>;
}

/** A header value over the ingress's default HOPGATE_MAX_HEADER_BYTES (32 KiB), in bytes. */
export const OVERSIZED_HEADER_BYTES = 40 * 1024;
/** A header value under the ingress's limit but over node's 16 KiB default, in bytes. */
export const LARGE_ALLOWED_HEADER_BYTES = 20 * 1024;
/** Output curl may produce in a test, in bytes. */
export const CURL_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** Request head limit of the test origin, in bytes: above the ingress's default. */
export const ORIGIN_MAX_HEADER_BYTES = 128 * 1024;

/** SSE events `/sse` writes, one per 'seen' signal. */
export const SSE_EVENTS = 8;

/**
 * An origin for the edge tests:
 * - `/sha256` -> `{ sha256, length }` of the body,
 * - `/echo` -> the request line, headers and raw headers as JSON,
 * - `/duplex` -> 200 at once, then every body chunk back as it arrives,
 * - `/hold` -> reads the body, never answers; `/slow` -> head and a chunk, then nothing,
 * - `/sse` -> an event stream, next event on `sse.emit('seen')`,
 * - `/nocontent` 204, `/notmodified` 304, `/hop` -> hop-by-hop response headers,
 * - `/cookies` -> two Set-Cookie; anything else -> 200 `<method> <url>`.
 */
export async function startEdgeOrigin(): Promise<EdgeOrigin> {
  const seen: SeenRequest[] = [];
  const sse = new EventEmitter();
  // Room for the large-but-allowed heads the edge tests send (node's default is 16 KiB).
  const server = http.createServer({ maxHeaderSize: ORIGIN_MAX_HEADER_BYTES }, (req, res) => {
    const record: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, complete: false, closedEarly: false };
    seen.push(record);
    req.once('end', () => (record.complete = true));
    res.once('close', () => {
      if (!res.writableFinished) record.closedEarly = true;
    });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/sha256') {
      answerSha256(req, res);
    } else if (path === '/echo') {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders }));
      });
    } else if (path === '/duplex') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.flushHeaders();
      req.pipe(res);
    } else if (path === '/hold') {
      req.resume();
    } else if (path === '/slow') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk\n');
    } else if (path === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let n = 0;
      const send = (): void => {
        res.write(`id: ${n}\ndata: event ${n}\n\n`);
        n += 1;
        if (n === SSE_EVENTS) {
          sse.off('seen', onSeen);
          res.end();
        }
      };
      const onSeen = (): void => send();
      sse.on('seen', onSeen);
      res.once('close', () => sse.off('seen', onSeen));
      send();
    } else if (path === '/nocontent') {
      req.resume();
      res.writeHead(204, { 'x-kind': 'no-content' });
      res.end();
    } else if (path === '/notmodified') {
      req.resume();
      res.writeHead(304, { etag: '"v1"' });
      res.end();
    } else if (path === '/hop') {
      req.resume();
      res.writeHead(200, {
        'content-type': 'text/plain',
        connection: 'x-hop-secret',
        'x-hop-secret': 'must not leave',
        'keep-alive': 'timeout=5',
        'proxy-authenticate': 'Basic realm="x"',
        'proxy-connection': 'keep-alive',
        upgrade: 'h2c',
        'x-end-to-end': 'kept',
      });
      res.end('hop\n');
    } else if (path === '/cookies') {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': ['a=1; Path=/', 'b=2; HttpOnly'] });
      res.end('cookies\n');
    } else {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : `${req.method} ${req.url}\n`);
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    sse,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** An HTTP/2 connection to the stack's ingress (ALPN h2, SNI = host). */
export async function h2Connect(stack: Stack, host: string, settings: http2.Settings = {}): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://127.0.0.1:${stack.httpsPort}`, {
    ca: fs.readFileSync(stack.ca.certFile),
    servername: host,
    settings,
  });
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  session.on('error', () => undefined);
  return session;
}

export interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP/2 request with an optional body; resolves with the whole answer. */
export function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    let head: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (head = h));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

/** A TLS connection writing HTTP bytes by hand (ALPN http/1.1); collects everything it receives. */
export class RawConnection {
  private received = Buffer.alloc(0);
  private ended = false;

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (d: Buffer) => (this.received = Buffer.concat([this.received, d])));
    socket.on('close', () => (this.ended = true));
    socket.on('error', () => undefined);
  }

  static open(stack: Stack, host: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: stack.httpsPort, servername: host, ca: fs.readFileSync(stack.ca.certFile), ALPNProtocols: ['http/1.1'] }, () =>
        resolve(new RawConnection(socket)),
      );
      socket.once('error', reject);
    });
  }

  get text(): string {
    return this.received.toString('latin1');
  }

  get closed(): boolean {
    return this.ended;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until what was received matches `pattern`; returns all text received. */
  async waitForText(pattern: RegExp, timeoutMs = ANSWER_TIMEOUT_MS): Promise<string> {
    await waitFor(`raw answer matching ${pattern}`, () => pattern.test(this.text), timeoutMs);
    return this.text;
  }

  /** Waits until the server closed the connection; returns all text received. */
  async waitForClose(timeoutMs = ANSWER_TIMEOUT_MS): Promise<string> {
    await waitFor('server closing the raw connection', () => this.ended, timeoutMs);
    return this.text;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One request on a fresh raw connection; resolves with everything received until the server closed it. */
export async function rawRequest(stack: Stack, host: string, bytes: string | Buffer): Promise<string> {
  const conn = await RawConnection.open(stack, host);
  try {
    conn.write(bytes);
    return await conn.waitForClose();
  } finally {
    conn.close();
  }
}

export function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export interface RawResponse {
  status: number;
  /** Lower-case names; every value of a repeated name, in order. */
  headers: Record<string, string[]>;
  body: string;
}

/**
 * Splits bytes received on a raw HTTP/1.1 connection into responses (RFC 9112 §6.3 framing):
 * no body after HEAD, 1xx, 204 and 304; else chunked, Content-Length, or until the close.
 * `methods` are the requests' methods in order (interim 1xx answers are skipped).
 */
export function parseRawResponses(text: string, methods: string[]): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  let index = 0;
  while (at < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) throw new Error(`incomplete response head at ${at}: ${JSON.stringify(text.slice(at, at + 200))}`);
    const lines = text.slice(at, headEnd).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1]);
    if (!status) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string[]> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      (headers[line.slice(0, colon).trim().toLowerCase()] ??= []).push(line.slice(colon + 1).trim());
    }
    at = headEnd + 4;
    if (status < 200) continue;
    const method = methods[index++] ?? 'GET';
    let body = '';
    if (method === 'HEAD' || status === 204 || status === 304) {
      body = '';
    } else if (headers['transfer-encoding']?.some((v) => /chunked/i.test(v))) {
      for (;;) {
        const lineEnd = text.indexOf('\r\n', at);
        const size = parseInt(text.slice(at, lineEnd), 16);
        at = lineEnd + 2;
        if (size === 0) {
          at = text.indexOf('\r\n\r\n', at - 2) + 4;
          break;
        }
        body += text.slice(at, at + size);
        at += size + 2;
      }
    } else if (headers['content-length']) {
      const length = Number(headers['content-length'][0]);
      body = text.slice(at, at + length);
      at += length;
    } else {
      body = text.slice(at);
      at = text.length;
    }
    out.push({ status, headers, body });
  }
  return out;
}

/** Runs curl; resolves with its exit code and output (never rejects). */
export function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', args, { maxBuffer: CURL_MAX_OUTPUT_BYTES }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
