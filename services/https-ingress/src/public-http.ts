import type { IncomingMessage, ServerResponse } from 'node:http';
import http2, { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Writable } from 'node:stream';

/** A public request as either protocol delivers it: HTTP/1.1 (node:http) or HTTP/2 (compat API). */
export type PublicRequest = IncomingMessage | Http2ServerRequest;
/** The response that goes with a PublicRequest. */
export type PublicResponse = ServerResponse | Http2ServerResponse;

export function isHttp2(req: PublicRequest): req is Http2ServerRequest {
  return req instanceof Http2ServerRequest;
}

export function isHttp2Response(res: PublicResponse): res is Http2ServerResponse {
  return res instanceof Http2ServerResponse;
}

/**
 * Pipes a request body into `sink`, which ends only if the body really completed. node's
 * HTTP/2 compat request emits 'end' even for a stream the browser reset ('aborted' first):
 * ending the sink then would hand the origin a truncated body as a complete one.
 */
export function pipeRequestBody(req: PublicRequest, sink: Writable): void {
  if (!isHttp2(req)) {
    req.pipe(sink);
    return;
  }
  req.pipe(sink, { end: false });
  req.once('end', () => {
    if (req.aborted) sink.destroy();
    else sink.end();
  });
}

/** A cut HTTP/1.1 connection that does not take its last bytes within this long is destroyed, in ms. */
export const CUT_RESPONSE_LINGER_MS = 2_000;

/**
 * Cuts a response that cannot be completed: HTTP/2 resets just this stream with CANCEL
 * (RFC 9113 §8.1); HTTP/1.1 has to close the connection (RFC 9112 §6.3: a body shorter than
 * its framing is then incomplete), after the bytes already written have left, so the browser
 * sees the part it got and then the close, never a complete answer (destroying the socket at
 * once would drop what was still buffered, the head included).
 */
export function abortResponse(res: PublicResponse): void {
  if (isHttp2Response(res)) {
    if (!res.stream.closed) res.stream.close(http2.constants.NGHTTP2_CANCEL);
    return;
  }
  const socket = res.socket;
  if (!socket || socket.destroyed) {
    res.destroy();
    return;
  }
  socket.destroySoon();
  setTimeout(() => socket.destroy(), CUT_RESPONSE_LINGER_MS).unref();
}

/**
 * Call after answering (res.end()) a request whose body will not be read: HTTP/2 asks the
 * browser to stop sending with RST_STREAM(NO_ERROR) (RFC 9113 §8.1), which node sends only
 * once the answer has left; HTTP/1.1 callers send `connection: close` instead (sendError).
 */
export function stopRequestBody(req: PublicRequest): void {
  if (!isHttp2(req)) return;
  if (!req.stream.closed) req.stream.close(http2.constants.NGHTTP2_NO_ERROR);
}

/** Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2); node throws on them. */
const H2_FORBIDDEN_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'te',
]);

/**
 * Writes a response head from header pairs. HTTP/1.1 takes the raw list as is; HTTP/2 gets
 * repeated names as one array (each value its own field, so several Set-Cookie stay
 * apart) and never a connection-specific field.
 */
export function writeResponseHead(res: PublicResponse, status: number, pairs: ReadonlyArray<readonly [string, string]>): void {
  if (!isHttp2Response(res)) {
    const flat: string[] = [];
    for (const [name, value] of pairs) flat.push(name, value);
    res.writeHead(status, flat);
    return;
  }
  const headers: Record<string, string[]> = {};
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    if (H2_FORBIDDEN_RESPONSE_HEADERS.has(key)) continue;
    (headers[key] ??= []).push(value);
  }
  res.writeHead(status, headers);
}

/**
 * True once the browser is gone: it reset the HTTP/2 stream, or closed the HTTP/1.1
 * connection. Checked before a request is relayed, so that one reset before its head left
 * the ingress costs the hub and the agent nothing.
 */
export function clientGone(req: PublicRequest): boolean {
  if (isHttp2(req)) return req.stream.closed || req.stream.destroyed;
  return req.socket.destroyed;
}
