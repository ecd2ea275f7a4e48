import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Longest `/slow?ms=` delay a NamedOrigin accepts, in ms. */
export const NAMED_ORIGIN_MAX_SLOW_MS = 60_000;

/** A local web service that says whose it is: what an agent of a cluster exposes. */
export interface NamedOrigin {
  readonly name: string;
  readonly port: number;
  /** `127.0.0.1:PORT` (an agent's `services` value). */
  readonly address: string;
  /** The body of every good answer: `<name>\n`. */
  readonly body: string;
  close(): Promise<void>;
}

/**
 * Answers every request with 200 and `<name>\n`, so a test knows which agent served it.
 * `GET /slow?ms=N` sends the head and a first line at once and ends the body N ms later: a
 * stream that is in flight while a test breaks something.
 */
export async function startNamedOrigin(name: string): Promise<NamedOrigin> {
  const body = `${name}\n`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    req.resume();
    if (url.pathname === '/slow') {
      const ms = Math.min(Math.max(Number(url.searchParams.get('ms')) || 0, 0), NAMED_ORIGIN_MAX_SLOW_MS);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('started\n');
      const timer = setTimeout(() => res.end(body), ms);
      res.once('close', () => clearTimeout(timer));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    port,
    address: `127.0.0.1:${port}`,
    body,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
