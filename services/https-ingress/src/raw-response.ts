import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { ErrorCode } from '@hopgate/errors';
import { BUSY_RETRY_AFTER_S, errorBody } from './error-status.js';

/**
 * A whole HTTP/1.1 answer written straight to a socket (an Upgrade request has no
 * ServerResponse), then the socket is closed. The body is errorBody(publicText, requestId, code),
 * left out for a HEAD request (RFC 9110 §9.3.2), whose Content-Length still tells its size.
 */
export function writeRawError(socket: Duplex, status: number, publicText: string, requestId?: string, code?: ErrorCode, method?: string): void {
  if (socket.destroyed) return;
  const body = errorBody(publicText, requestId, code);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'content-type: text/plain; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'cache-control: no-store',
    'x-content-type-options: nosniff',
    'connection: close',
  ];
  if (requestId) lines.push(`x-hopgate-request-id: ${requestId}`);
  if (status === 503) lines.push(`retry-after: ${BUSY_RETRY_AFTER_S}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${method === 'HEAD' ? '' : body}`);
}

/**
 * The status line and headers of a response, as bytes for a raw socket. The caller has
 * validated every name and value (response-framing.ts): nothing here may carry CR or LF.
 */
export function rawResponseHead(status: number, headers: ReadonlyArray<readonly [string, string]>): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`];
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
