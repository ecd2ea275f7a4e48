import http2 from 'node:http2';
import { Client } from 'undici';

/** One request that did not get its expected answer. */
export interface LoadFailure {
  protocol: 'h1' | 'h2';
  /** When it was sent and when it failed (ms since epoch). */
  startedAt: number;
  failedAt: number;
  error: string;
}

export interface LoadCounts {
  h1Ok: number;
  h2Ok: number;
  /**
   * HTTP/2 requests the server never processed (streams above a GOAWAY's last stream id, refused
   * with REFUSED_STREAM, or not sent because the session had received GOAWAY) and were sent again
   * on a new connection, as RFC 9113 §8.7 allows any client; they are not failures.
   */
  h2Refused: number;
  failures: LoadFailure[];
}

export interface DrainLoadOptions {
  /** The balancer's port on 127.0.0.1. */
  port: number;
  /** SNI and Host of every request. */
  host: string;
  path: string;
  /** The whole expected body of each answer (status 200). */
  expectBody: string;
  /** PEM of the CA to trust. */
  ca: string;
  /** HTTP/1.1 keep-alive clients, one request at a time each (undici). */
  h1Clients: number;
  /** HTTP/2 connections (node:http2) and requests in flight on each. */
  h2Sessions: number;
  h2StreamsPerSession: number;
}

/**
 * Continuous load through a balancer: HTTP/1.1 keep-alive clients (undici `Client`, each its
 * own connection, reconnecting after `Connection: close`) and HTTP/2 connections (node:http2,
 * a new connection after GOAWAY), every request checked for status and body.
 *
 * Why node:http2 and not undici's `allowH2`: undici 7's HTTP/2 client answers any GOAWAY by
 * destroying the socket and failing the request at the head of its queue (client-h2.js
 * onHttp2SessionGoAway, "TODO: verify if GOAWAY implements the spec correctly"), so a graceful
 * GOAWAY (RFC 9113 §6.8: streams up to the last id complete) fails requests in flight for it;
 * browsers and node:http2 let them finish.
 */
export class DrainLoad {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly h1: Client[] = [];
  private readonly sessions: H2Connection[] = [];
  readonly counts: LoadCounts = { h1Ok: 0, h2Ok: 0, h2Refused: 0, failures: [] };

  constructor(private readonly o: DrainLoadOptions) {}

  get ok(): number {
    return this.counts.h1Ok + this.counts.h2Ok;
  }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.o.h1Clients; i++) {
      const client = new Client(`https://127.0.0.1:${this.o.port}`, {
        connect: { ca: this.o.ca, servername: this.o.host },
        pipelining: 1,
        keepAliveTimeout: 30_000,
      } as ConstructorParameters<typeof Client>[1]);
      this.h1.push(client);
      this.loops.push(this.h1Loop(client));
    }
    for (let i = 0; i < this.o.h2Sessions; i++) {
      const connection = new H2Connection(this.o);
      this.sessions.push(connection);
      for (let j = 0; j < this.o.h2StreamsPerSession; j++) this.loops.push(this.h2Loop(connection));
    }
  }

  /** Stops sending, waits for the requests in flight, closes every connection. */
  async stop(): Promise<LoadCounts> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all(this.h1.map((c) => c.close().catch(() => undefined)));
    for (const s of this.sessions) s.close();
    return this.counts;
  }

  private async h1Loop(client: Client): Promise<void> {
    while (this.running) {
      const startedAt = Date.now();
      try {
        const res = await client.request({ path: this.o.path, method: 'GET', headers: { host: this.o.host } });
        const body = await res.body.text();
        if (res.statusCode !== 200 || body !== this.o.expectBody) throw new Error(`status ${res.statusCode}: ${body.slice(0, 200)}`);
        this.counts.h1Ok += 1;
      } catch (err) {
        this.counts.failures.push({ protocol: 'h1', startedAt, failedAt: Date.now(), error: describe(err) });
      }
    }
  }

  private async h2Loop(connection: H2Connection): Promise<void> {
    while (this.running) {
      const startedAt = Date.now();
      try {
        const outcome = await connection.get(this.o.path);
        if (outcome === 'refused') {
          this.counts.h2Refused += 1;
          continue;
        }
        if (outcome.status !== 200 || outcome.body !== this.o.expectBody) throw new Error(`status ${outcome.status}: ${outcome.body.slice(0, 200)}`);
        this.counts.h2Ok += 1;
      } catch (err) {
        this.counts.failures.push({ protocol: 'h2', startedAt, failedAt: Date.now(), error: describe(err) });
      }
    }
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`;
}

/** An HTTP/2 client connection that is replaced by a new one after GOAWAY or close. */
class H2Connection {
  private session: http2.ClientHttp2Session | undefined;
  private goaway = false;

  constructor(private readonly o: DrainLoadOptions) {}

  private current(): http2.ClientHttp2Session {
    if (!this.session || this.goaway || this.session.closed || this.session.destroyed) {
      const session = http2.connect(`https://127.0.0.1:${this.o.port}`, { ca: this.o.ca, servername: this.o.host });
      session.on('error', () => undefined); // its streams report what matters
      session.on('goaway', () => {
        if (this.session === session) this.goaway = true;
      });
      this.session = session;
      this.goaway = false;
    }
    return this.session;
  }

  /** A GET: its answer, or `refused` when the server provably did not process it. */
  get(path: string): Promise<{ status: number; body: string } | 'refused'> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.current().request({ ':path': path, ':authority': this.o.host });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        // The session got GOAWAY (or closed) before this request was sent: never seen by the server.
        if (code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_INVALID_SESSION') return resolve('refused');
        return reject(err instanceof Error ? err : new Error(String(err)));
      }
      let status = 0;
      let body = '';
      stream.setEncoding('utf8');
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('error', () => undefined); // decided on close
      stream.on('close', () => {
        if (status !== 0 && stream.rstCode === http2.constants.NGHTTP2_NO_ERROR && stream.readableEnded) return resolve({ status, body });
        // RFC 9113 §8.7: a REFUSED_STREAM reset (or a stream above GOAWAY's last id) was not processed.
        if (status === 0 && stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) return resolve('refused');
        reject(new Error(`h2 stream closed: status ${status}, rst code ${stream.rstCode}, ended ${stream.readableEnded}`));
      });
      stream.end();
    });
  }

  close(): void {
    this.session?.close();
  }
}
