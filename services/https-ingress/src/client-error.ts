import type { Duplex } from 'node:stream';
import type { Logger } from '@hopgate/log';
import { writeRawError } from './raw-response.js';
import { afterPendingResponses } from './pending-responses.js';

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
  if (code === PARSER_PAUSED_CODE) return undefined;
  if (code?.startsWith('HPE_')) return 400;
  return undefined;
}

/**
 * node's parser error for data that arrived while node had paused the connection for
 * pipelined requests (llhttp HPE_PAUSED): not the client's fault, and the bytes were not
 * parsed. Seen over TLS, where node reads through 'data' events.
 */
export const PARSER_PAUSED_CODE = 'HPE_PAUSED';

/** After its error answer, a connection has this long to close its side before it is destroyed, in ms. */
export const CLIENT_ERROR_LINGER_MS = 2_000;

/** Connections whose parse error was already handled: node reports one per chunk that follows. */
const handled = new WeakSet<Duplex>();

/**
 * The server's 'clientError' handler. For a malformed request: once the answers to the
 * requests before it have left (pipelining, RFC 9112 §9.3.2), answers with the mapped status
 * (Connection: close) and closes; logged once with a request id. node reports the same parse
 * error again for every later chunk of the connection (a TLS record each): those are ignored,
 * so they neither log again nor destroy the socket before the answer left. For a parser
 * paused by pipelining (PARSER_PAUSED_CODE): the connection is closed after the pending
 * answers, without an answer of its own, so the client retries what was not answered.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, requestId: string, log: Logger): void {
  if (handled.has(socket)) return;
  const status = clientErrorStatus(err.code);
  if (err.code === PARSER_PAUSED_CODE) {
    handled.add(socket);
    log.debug({ code: err.code }, 'pipelined requests after a paused parser: closing after the pending answers');
    afterPendingResponses(socket, () => closeAfter(socket));
    return;
  }
  if (status === undefined) {
    // A TLS handshake failure or a peer that left (a port probe, a closed idle connection).
    log.debug({ code: err.code, reason: err.message }, 'connection error outside any request');
    socket.destroy();
    return;
  }
  handled.add(socket);
  log.info({ request_id: requestId, code: err.code, status, reason: err.message }, 'malformed request refused');
  afterPendingResponses(socket, () => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    writeRawError(socket, status, reasonFor(status), requestId);
    lingerThenDestroy(socket);
  });
}

function closeAfter(socket: Duplex): void {
  socket.end();
  lingerThenDestroy(socket);
}

function lingerThenDestroy(socket: Duplex): void {
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
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
