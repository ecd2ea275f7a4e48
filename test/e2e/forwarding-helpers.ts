/**
 * Helpers of the forwarding tests (forwarded-headers.test.ts, proxy-protocol.test.ts):
 * requests from a chosen loopback source address (every 127.0.0.0/8 address is local on
 * Linux, so one stack sees a trusted and an untrusted peer), PROXY protocol headers written
 * by hand, and the ingress's access log lines.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { LogRecord, Stack } from '@hopgate/testkit';
import { ANSWER_TIMEOUT_MS } from './edge-helpers.js';

/** The source address the tests' trusted proxy connects from (HOPGATE_TRUSTED_PROXIES). */
export const TRUSTED_PEER = '127.0.0.2';
/** The source address of an ordinary, untrusted client. */
export const UNTRUSTED_PEER = '127.0.0.1';

/** What `/echo` of the edge origin answers. */
export interface Echoed {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  rawHeaders: string[];
}

/** An answer of `/echo` with the request id the ingress gave it. */
export interface EchoReply {
  status: number;
  requestId: string;
  body: Echoed;
}

export interface EchoOptions {
  /** Source address of the connection (default UNTRUSTED_PEER). */
  localAddress?: string;
  headers?: Record<string, string>;
}

function readJson(res: http.IncomingMessage): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve({ status: res.statusCode ?? 0, requestId: String(res.headers['x-hopgate-request-id']), body: JSON.parse(text) as Echoed });
      } catch {
        reject(new Error(`status ${res.statusCode}, not JSON: ${text.slice(0, 300)}`));
      }
    });
    res.on('error', reject);
  });
}

/** GET `path` over HTTPS / HTTP/1.1 on a fresh connection; the origin's echo of the request. */
export function echoHttps1(stack: Stack, host: string, path: string, options: EchoOptions = {}): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: stack.httpsPort,
        path,
        servername: host,
        ca: fs.readFileSync(stack.ca.certFile),
        localAddress: options.localAddress ?? UNTRUSTED_PEER,
        agent: false,
        headers: { host, ...(options.headers ?? {}) },
        timeout: ANSWER_TIMEOUT_MS,
      },
      (res) => readJson(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end();
  });
}

/** GET `path` over plain HTTP/1.1 (the HTTP port in `serve` mode) on a fresh connection. */
export function echoHttp(stack: Stack, host: string, path: string, options: EchoOptions = {}): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: stack.httpPort,
        path,
        localAddress: options.localAddress ?? UNTRUSTED_PEER,
        agent: false,
        headers: { host, ...(options.headers ?? {}) },
        timeout: ANSWER_TIMEOUT_MS,
      },
      (res) => readJson(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end();
  });
}

/** GET `path` over HTTP/2 on a fresh connection (sent over `socket` when given: a PROXY-prefixed TLS socket). */
export async function echoHttp2(stack: Stack, host: string, path: string, options: EchoOptions & { socket?: tls.TLSSocket } = {}): Promise<EchoReply> {
  const session = http2.connect(`https://${host}:${stack.httpsPort}`, {
    ca: fs.readFileSync(stack.ca.certFile),
    servername: host,
    ...(options.socket ? { createConnection: () => options.socket! } : { host: '127.0.0.1', localAddress: options.localAddress ?? UNTRUSTED_PEER }),
  } as http2.SecureClientSessionOptions);
  session.on('error', () => undefined);
  try {
    return await new Promise((resolve, reject) => {
      const req = session.request({ ':method': 'GET', ':path': path, ':authority': host, ...(options.headers ?? {}) });
      let status = 0;
      let requestId = '';
      const chunks: Buffer[] = [];
      req.on('response', (h) => {
        status = Number(h[':status']);
        requestId = String(h['x-hopgate-request-id']);
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status, requestId, body: JSON.parse(text) as Echoed });
        } catch {
          reject(new Error(`status ${status}, not JSON: ${text.slice(0, 300)}`));
        }
      });
      req.on('error', reject);
      req.setTimeout(ANSWER_TIMEOUT_MS, () => reject(new Error('HTTP/2 request timed out')));
    });
  } finally {
    session.destroy();
  }
}

/** The ingress's access log line ("request served") of the request the origin saw with this request id. */
export async function servedLog(stack: Stack, requestId: string): Promise<LogRecord> {
  return stack.ingress.waitForLog(`request served ${requestId}`, (r) => r.msg === 'request served' && r.request_id === requestId, ANSWER_TIMEOUT_MS);
}

/** A TCP connection from `localAddress` to `port`, connected. */
export function tcpConnect(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** TLS over an open TCP socket (after its PROXY header), ALPN `alpn`, trusting the stack's CA. */
export function tlsOver(stack: Stack, socket: net.Socket, host: string, alpn: string[]): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket, servername: host, ca: fs.readFileSync(stack.ca.certFile), ALPNProtocols: alpn }, () => {
      secure.off('error', reject);
      resolve(secure);
    });
    secure.once('error', reject);
    secure.once('close', () => reject(new Error('TLS connection closed before the handshake finished')));
  });
}

/** Sends one HTTP/1.1 request (Connection: close) over `socket` and resolves with everything received until the close. */
export function rawExchange(socket: net.Socket | tls.TLSSocket, request: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.once('error', reject);
    socket.setTimeout(ANSWER_TIMEOUT_MS, () => {
      socket.destroy();
      reject(new Error('no answer in time'));
    });
    socket.write(request);
  });
}

/** A raw HTTP/1.1 answer of `/echo` (Connection: close), chunked or not. */
export function echoFromRaw(raw: string): EchoReply {
  const start = raw.indexOf('\r\n\r\n');
  if (!raw.startsWith('HTTP/1.1 200') || start < 0) throw new Error(`not a 200 answer: ${JSON.stringify(raw.slice(0, 300))}`);
  let body = raw.slice(start + 4);
  if (/\r\ntransfer-encoding: chunked\r\n/i.test(raw.slice(0, start + 2))) {
    let text = '';
    for (;;) {
      const lineEnd = body.indexOf('\r\n');
      const size = parseInt(body.slice(0, lineEnd), 16);
      if (!size) break;
      text += body.slice(lineEnd + 2, lineEnd + 2 + size);
      body = body.slice(lineEnd + 2 + size + 2);
    }
    body = text;
  }
  const requestId = /\r\nx-hopgate-request-id: ([^\r]*)\r\n/i.exec(raw.slice(0, start + 2))?.[1] ?? '';
  return { status: 200, requestId, body: JSON.parse(body) as Echoed };
}

/** Waits until the server closed `socket`; resolves with the bytes it sent before (none expected on a refusal). */
export function closedByServer(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    if (socket.destroyed) resolve(Buffer.alloc(0));
    socket.once('close', () => resolve(Buffer.concat(chunks)));
    socket.setTimeout(ANSWER_TIMEOUT_MS, () => {
      socket.destroy();
      reject(new Error('the server kept the connection open'));
    });
  });
}

/** PROXY protocol v1 line (haproxy proxy-protocol.txt §2.1). */
export function proxyV1(family: 'TCP4' | 'TCP6', source: string, destination: string, sourcePort: number, destinationPort: number): Buffer {
  return Buffer.from(`PROXY ${family} ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`, 'latin1');
}

/** The 12-byte signature of a PROXY protocol v2 header (proxy-protocol.txt §2.2). */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/**
 * A PROXY protocol v2 header (proxy-protocol.txt §2.2): PROXY over TCP with IPv4 or IPv6
 * addresses, or LOCAL without any; `tlvs` appended after the addresses.
 */
export function proxyV2(
  header: { command: 'local' } | { command: 'proxy'; source: string; destination: string; sourcePort: number; destinationPort: number },
  tlvs: Buffer = Buffer.alloc(0),
): Buffer {
  if (header.command === 'local') {
    return Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x20, 0x00, tlvs.length >> 8, tlvs.length & 0xff]), tlvs]);
  }
  const v6 = header.source.includes(':');
  const addressBytes = (text: string): Buffer => (v6 ? ipv6Bytes(text) : Buffer.from(text.split('.').map(Number)));
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(header.sourcePort, 0);
  ports.writeUInt16BE(header.destinationPort, 2);
  const body = Buffer.concat([addressBytes(header.source), addressBytes(header.destination), ports, tlvs]);
  return Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, v6 ? 0x21 : 0x11, body.length >> 8, body.length & 0xff]), body]);
}

/** IPv6 text (with at most one `::`, no dotted tail) as 16 bytes: enough for the tests' addresses. */
function ipv6Bytes(text: string): Buffer {
  const [left, right] = text.split('::') as [string, string | undefined];
  const groups = (part: string | undefined): number[] => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const head = groups(left);
  const tail = groups(right);
  const all = right === undefined ? head : [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Waits for an ingress log line matching `match` from record index `from` on. */
export function ingressLog(stack: Stack, what: string, match: (r: LogRecord) => boolean, from = 0): Promise<LogRecord> {
  return stack.ingress.waitForLog(what, match, ANSWER_TIMEOUT_MS, from);
}
