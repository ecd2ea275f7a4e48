import type { Duplex } from 'node:stream';
import type { Logger } from '@hopgate/log';
import { writeRawError } from './raw-response.js';

/**
 * The status for a request node's HTTP/1.1 parser refused before any handler saw it, so
 * it never reaches an agent: oversized head 431 (RFC 6585 §5), head not complete in time
 * 408 (RFC 9110 §15.5.9), oversized chunk extensions 413 (RFC 9110 §15.5.14), any other
 * parse error (conflicting Content-Length/Transfer-Encoding, bad syntax) 400 (RFC 9112 §6.3).
 * Undefined for errors that are not about HTTP (TLS handshake failures, resets): those
 * connections get no HTTP answer.
 */
export function clientErrorStatus(code: string | undefined): number | undefined {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 413;
  if (code?.startsWith('HPE_')) return 400;
  return undefined;
}

/** What node attaches to a server socket while a response is being written on it. */
interface SocketWithResponse {
  _httpMessage?: { headersSent?: boolean } | null;
}

/**
 * The server's 'clientError' handler: answers with the mapped status and closes, unless a
 * response is already under way on this connection (then writing would corrupt it, so
 * the socket is only destroyed), and logs the refusal with a request id.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, requestId: string, log: Logger): void {
  const status = clientErrorStatus(err.code);
  if (status === undefined) {
    // A TLS handshake failure or a peer that left (a port probe, a closed idle connection).
    log.debug({ code: err.code, reason: err.message }, 'connection error outside any request');
    socket.destroy();
    return;
  }
  const inFlight = (socket as Duplex & SocketWithResponse)._httpMessage?.headersSent === true;
  log.info({ request_id: requestId, code: err.code, status, reason: err.message }, 'malformed request refused');
  if (socket.writable && !inFlight) writeRawError(socket, status, reasonFor(status), requestId);
  else socket.destroy();
}

function reasonFor(status: number): string {
  switch (status) {
    case 431:
      return 'request header fields too large';
    case 408:
      return 'the request head did not arrive in time';
    case 413:
      return 'chunk extensions too large';
    default:
      return 'malformed request';
  }
}
