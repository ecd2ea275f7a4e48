import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import assert from 'node:assert/strict';
import { answerSha256, reapOnExit, type Stack, type LogRecord } from '@hopgate/testkit';

export interface Origin {
  port: number;
  address: string;
  /** Requests seen, with their headers. */
  seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }>;
  /** `/slow` requests whose connection the origin saw close before it finished them. */
  slowClosed(): number;
  /** `/hang` requests whose connection the origin saw close (it never answers them). */
  hangClosed(): number;
  close(): Promise<void>;
}

/**
 * A small local web service for the agent to expose:
 * - `GET /hello` -> text, `GET /headers` -> the request headers as JSON,
 * - `POST /sha256` -> hex sha256 of the body and its length,
 * - `GET /bytes/<n>` -> n pseudo-random bytes with their sha256 in a header,
 * - `/hang` -> never answers (the request body is read), `GET /slow` -> head and one chunk, then nothing,
 * - anything else -> 200 with the path.
 */
export async function startOrigin(name = 'origin'): Promise<Origin> {
  const seen: Origin['seen'] = [];
  let slowClosed = 0;
  let hangClosed = 0;
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const url = req.url ?? '/';
    if (url === '/hello' || url === '/') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`hello from ${name}\n`);
    } else if (url === '/headers') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.headers));
    } else if (url === '/sha256') {
      answerSha256(req, res);
    } else if (url.startsWith('/bytes/')) {
      const n = Number(url.slice('/bytes/'.length));
      const body = crypto.randomBytes(n);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n, 'x-sha256': crypto.createHash('sha256').update(body).digest('hex') });
      res.end(body);
    } else if (url === '/hang') {
      // never answers; reads a request body, so it notices when the client leaves
      req.resume();
      res.once('close', () => {
        hangClosed += 1;
      });
    } else if (url === '/slow') {
      // answers the head and a first chunk, then never ends
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk\n');
      res.once('close', () => {
        if (!res.writableFinished) slowClosed += 1;
      });
    } else {
      res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
      res.end(`${name} ${req.method} ${url}\n`);
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    seen,
    slowClosed: () => slowClosed,
    hangClosed: () => hangClosed,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** An HTTPS client of the stack's ingress that trusts the dev CA and sends SNI + Host = `host`. */
export class PublicClient {
  private readonly clients = new Map<string, Client>();

  constructor(private readonly stack: Stack) {}

  private client(host: string): Client {
    let c = this.clients.get(host);
    if (!c) {
      c = new Client(`https://127.0.0.1:${this.stack.httpsPort}`, {
        connect: { ca: fs.readFileSync(this.stack.ca.certFile, 'utf8'), servername: host },
        pipelining: 0,
        connections: 128,
      } as ConstructorParameters<typeof Client>[1]);
      this.clients.set(host, c);
    }
    return c;
  }

  async request(host: string, path: string, options: { method?: string; body?: Buffer | NodeJS.ReadableStream; headers?: Record<string, string> } = {}): Promise<Reply> {
    const res = await this.client(host).request({
      path,
      method: (options.method ?? 'GET') as 'GET',
      headers: { host, ...(options.headers ?? {}) },
      body: options.body as Buffer | undefined,
    });
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.destroy().catch(() => undefined)));
  }
}

export interface StuckListener {
  port: number;
  address: string;
  close(): Promise<void>;
}

/**
 * python3: a listener with backlog 0 that never accepts; it fills its own accept queue with
 * connections (a loopback connect that can complete does so at once; the first that waits a
 * second means the queue is full), prints its port and waits for stdin to close.
 */
const STUCK_LISTENER_PY = `
import socket, sys
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(0)
fillers = []
for _ in range(64):
    c = socket.socket()
    c.settimeout(1.0)
    try:
        c.connect(server.getsockname())
    except socket.timeout:
        c.close()
        break
    fillers.append(c)
print(server.getsockname()[1], len(fillers), flush=True)
sys.stdin.read()
`;

/**
 * A TCP port on 127.0.0.1 where a connect never completes, like a hung or firewalled local
 * service: a listener that never accepts, with a full accept queue, so Linux drops further
 * SYNs (tcp_abort_on_overflow=0, the default) and a client's connect just waits.
 */
export async function startStuckListener(): Promise<StuckListener> {
  const child = spawn('python3', ['-c', STUCK_LISTENER_PY], { stdio: ['pipe', 'pipe', 'pipe'] });
  reapOnExit(child);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`python3 stuck listener exited (${code}): ${stderr}`)));
  });
  const [portText, fillersText] = line.trim().split(' ');
  const port = Number(portText);
  if (!Number.isInteger(port) || port <= 0 || Number(fillersText) < 1) throw new Error(`stuck listener: unexpected "${line}"`);
  return {
    port,
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

/**
 * Checks an answer the edge made itself: `hopgate: <public text> (<code>)` and the request id,
 * and nothing internal (no loopback address of the agent's side, no hub id, no client id).
 * Returns the request id, which finds the precise reason in the logs.
 */
export function assertPublicError(body: string, code: string, requestId: string | undefined): string {
  assert.equal(typeof requestId, 'string', 'every edge answer carries x-hopgate-request-id');
  assert.match(body, new RegExp(`^hopgate: [^\\n]+ \\(${code}\\)\\nrequest id: ${requestId}\\n$`));
  assert.doesNotMatch(body, /127\.0\.0\.1|hub-\d|client "|local service "|redis|nats/i, 'no internal detail in a public error body');
  return requestId as string;
}

/** The ingress's log line for a failed request or upgrade, once its `reason` (the precise one) matches. */
export function waitForIngressReason(stack: Stack, requestId: string, reason: RegExp): Promise<LogRecord> {
  return stack.ingress.waitForLog(`ingress reason of ${requestId} matching ${reason}`, (r) => r['request_id'] === requestId && reason.test(String(r['reason'])));
}
