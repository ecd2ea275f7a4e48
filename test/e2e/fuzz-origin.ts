/**
 * The local services behind the fuzz suite's agents: one small HTTP server per route
 * service, each answering every request it gets and recording it, so the oracle can tell
 * a proxied answer from an edge one (`x-fuzz-service`), check that an answer belongs to the
 * request it came back for (`x-fuzz-echo`), and check the tenant boundary afterwards (every
 * request a service saw must route to that service).
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';

/** Response header naming the service that answered: present only on proxied answers. */
export const SERVICE_HEADER = 'x-fuzz-service';
/** Response header with the request as the service saw it (base64url JSON of an EchoRecord). */
export const ECHO_HEADER = 'x-fuzz-echo';
/** Response header on the service's own 400 for a request its parser refused. */
export const REFUSED_HEADER = 'x-fuzz-refused';
/** Request head limit of the fuzz services, in bytes: far above anything the edge forwards. */
export const FUZZ_ORIGIN_MAX_HEADER_BYTES = 256 * 1024;

/** A request as a service saw it. */
export interface EchoRecord {
  service: string;
  method: string;
  url: string;
  /** The Host header, or '' when there was none. */
  host: string;
  /** Every Cookie header value, in order. */
  cookies: string[];
  /** Lower-case header names, in order. */
  headerNames: string[];
}

export interface FuzzOrigin {
  service: string;
  address: string;
  /** Every request this service saw. */
  seen: EchoRecord[];
  /** Requests its HTTP parser refused (error codes). */
  refused: string[];
  close(): Promise<void>;
}

/** The body of a proxied answer from `service` (HEAD: none). */
export function serviceBody(service: string): string {
  return `fuzz ${service}\n`;
}

export function encodeEcho(record: EchoRecord): string {
  return Buffer.from(JSON.stringify(record), 'utf8').toString('base64url');
}

export function decodeEcho(value: string): EchoRecord | undefined {
  try {
    return JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as EchoRecord;
  } catch {
    return undefined;
  }
}

function recordOf(service: string, req: http.IncomingMessage): EchoRecord {
  const cookies: string[] = [];
  const headerNames: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    headerNames.push(name);
    if (name === 'cookie') cookies.push(req.rawHeaders[i + 1]!);
  }
  return { service, method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', cookies, headerNames };
}

/** Starts the service `service`: 200 (101 for an upgrade) with its name and the echo. */
export async function startFuzzOrigin(service: string): Promise<FuzzOrigin> {
  const seen: EchoRecord[] = [];
  const refused: string[] = [];
  const server = http.createServer({ maxHeaderSize: FUZZ_ORIGIN_MAX_HEADER_BYTES }, (req, res) => {
    const record = recordOf(service, req);
    seen.push(record);
    req.resume();
    req.once('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', [SERVICE_HEADER]: service, [ECHO_HEADER]: encodeEcho(record) });
      res.end(req.method === 'HEAD' ? undefined : serviceBody(service));
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    const record = recordOf(service, req);
    seen.push(record);
    socket.on('error', () => undefined);
    socket.end(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n${SERVICE_HEADER}: ${service}\r\n${ECHO_HEADER}: ${encodeEcho(record)}\r\n\r\n${serviceBody(service)}`,
    );
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    refused.push(err.code ?? err.message);
    if (socket.writable) socket.end(`HTTP/1.1 400 Bad Request\r\n${SERVICE_HEADER}: ${service}\r\n${REFUSED_HEADER}: ${err.code ?? 'unknown'}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    else socket.destroy();
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    service,
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    refused,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
