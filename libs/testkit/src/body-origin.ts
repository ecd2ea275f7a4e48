import http from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';

/** Size of each chunk the origin writes and the clients send. */
/** Reads the whole request body and answers 200 with `{ sha256, length }` of what arrived. */
export function answerSha256(req: http.IncomingMessage, res: http.ServerResponse): void {
  const hash = crypto.createHash('sha256');
  let length = 0;
  req.on('data', (c: Buffer) => {
    hash.update(c);
    length += c.length;
  });
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ sha256: hash.digest('hex'), length }));
  });
}

export const BODY_CHUNK_BYTES = 64 * 1024;

/** `bytes` random bytes as chunks of BODY_CHUNK_BYTES, made one at a time (never the whole body). */
export function* randomChunks(bytes: number): Generator<Buffer> {
  for (let left = bytes; left > 0; left -= BODY_CHUNK_BYTES) yield crypto.randomBytes(Math.min(left, BODY_CHUNK_BYTES));
}

/** One download as the origin sees it. */
export interface DownloadState {
  /** Bytes handed to `res.write` (accepted by the socket side: written or buffered below its high-water mark). */
  accepted: number;
  /** All bytes written and `res.end()` called. */
  finished: boolean;
  /** sha256 (hex) of everything sent, once finished. */
  done: Promise<string>;
}

export interface BodyOrigin {
  address: string;
  /** A fresh id for `?id=`. */
  nextId(): string;
  /** The download with that id (created on first use, so tests can look it up before the request lands). */
  download(id: string): DownloadState;
  /** Whether the held upload with that id has arrived (head read, body not). */
  held(id: string): boolean;
  /** Lets a held upload be read. */
  release(id: string): void;
  close(): Promise<void>;
}

/**
 * A local service that streams large bodies without holding them:
 * - `GET /download/<n>?id=<id>` -> n random bytes, written chunk by chunk, honouring `drain`;
 * - `POST /upload?id=<id>[&hold=1]` -> `{ sha256, length }` of the body; with `hold=1` the body
 *   is not read until `release(id)`.
 */
export async function startBodyOrigin(): Promise<BodyOrigin> {
  let seq = 0;
  const downloads = new Map<string, DownloadState & { resolve(sha: string): void; reject(err: Error): void }>();
  const held = new Map<string, () => void>();
  const released = new Set<string>();
  const downloadState = (id: string): DownloadState & { resolve(sha: string): void; reject(err: Error): void } => {
    let state = downloads.get(id);
    if (!state) {
      let resolve!: (sha: string) => void;
      let reject!: (err: Error) => void;
      const done = new Promise<string>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      done.catch(() => undefined);
      state = { accepted: 0, finished: false, done, resolve, reject };
      downloads.set(id, state);
    }
    return state;
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const id = url.searchParams.get('id') ?? `anon-${++seq}`;
    if (req.method === 'GET' && url.pathname.startsWith('/download/')) {
      const bytes = Number(url.pathname.slice('/download/'.length));
      const state = downloadState(id);
      const hash = crypto.createHash('sha256');
      const chunks = randomChunks(bytes);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
      res.once('close', () => {
        if (!state.finished) state.reject(new Error(`download ${id} closed after ${state.accepted} bytes`));
      });
      const pump = (): void => {
        for (let next = chunks.next(); !next.done; next = chunks.next()) {
          hash.update(next.value);
          state.accepted += next.value.length;
          if (!res.write(next.value)) return void res.once('drain', pump);
        }
        state.finished = true;
        res.end();
        state.resolve(hash.digest('hex'));
      };
      pump();
    } else if (req.method === 'POST' && url.pathname === '/upload') {
      const read = (): void => {
        answerSha256(req, res);
      };
      if (url.searchParams.get('hold') === '1' && !released.has(id)) held.set(id, read);
      else read();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    nextId: () => `req-${++seq}`,
    download: downloadState,
    held: (id) => held.has(id),
    release: (id) => {
      released.add(id);
      const read = held.get(id);
      held.delete(id);
      read?.();
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
