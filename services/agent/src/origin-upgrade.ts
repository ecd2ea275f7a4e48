import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '@hopgate/log';
import { ErrorCode } from '@hopgate/errors';
import { formatHostPort, type ListenAddress } from '@hopgate/config';
import type { TransportStream } from '@hopgate/transport';
import { encodeMessage, type RequestHead } from '@hopgate/wire';
import { Coalescer, flattenHeaders, pairsFromRaw, stripHopByHop } from '@hopgate/http-tunnel';
import { connectTimeoutMessage, responseHeaderTimeoutMessage, type OriginTimeouts } from './origin-timeouts.js';

/** Whether a request head asks for a protocol upgrade (WebSocket). */
export function isUpgrade(head: RequestHead): boolean {
  return head.headers.some(([name]) => name === 'upgrade');
}

/**
 * An Upgrade request against the local service with Node's http client (undici has no
 * client-side upgrade that also passes a non-101 answer through). On 101 the tunnel stream
 * and the origin socket are joined both ways; any other answer is relayed as a response.
 * The connect and response-head limits are the same as for requests (504 naming the service);
 * an established WebSocket has no idle limit. Whatever happens, a closed tunnel stream
 * destroys the origin socket and a finished origin exchange ends the tunnel stream.
 */
export function serveOriginUpgrade(stream: TransportStream, head: RequestHead, target: ListenAddress, timeouts: OriginTimeouts, log: Logger): void {
  const where = formatHostPort(target);
  const req = http.request({
    host: target.host,
    port: target.port,
    method: head.method,
    path: head.path,
    headers: flattenHeaders(head.headers) as unknown as http.OutgoingHttpHeaders,
    agent: false,
  });
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  const writeError = (code: ErrorCode, message: string): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    stream.resume();
    stream.end(encodeMessage({ type: 'stream_error', code, message }));
  };
  /** One timer at a time: first the connect limit, then the response-head limit. */
  const arm = (ms: number, message: string): void => {
    clearTimeout(timer);
    if (ms <= 0 || settled) return;
    timer = setTimeout(() => {
      log.warn({ code: ErrorCode.Timeout }, message);
      writeError(ErrorCode.Timeout, message);
      req.destroy();
    }, ms);
  };
  arm(timeouts.connectMs, connectTimeoutMessage(head.service, where, timeouts.connectMs));
  req.once('socket', (socket) => {
    const waitForHead = (): void => arm(timeouts.responseHeaderMs, responseHeaderTimeoutMessage(head.service, timeouts.responseHeaderMs));
    if (socket.connecting) socket.once('connect', waitForHead);
    else waitForHead();
  });
  req.once('error', (err: Error & { code?: string }) => {
    if (settled) return; // our own destroy() after a timeout or a cancel
    log.warn({ code: err.code }, 'upgrade to the local service failed');
    writeError(ErrorCode.OriginUnreachable, `cannot reach local service "${head.service}" at ${where}: ${err.code ?? err.message}`);
  });
  req.once('upgrade', (res, socket, early) => {
    settled = true;
    clearTimeout(timer);
    const headers = stripHopByHop(pairsFromRaw(res.rawHeaders), new Set(['upgrade']));
    stream.write(encodeMessage({ type: 'response_head', status: res.statusCode ?? 101, headers }));
    if (early.length > 0) stream.write(early);
    socket.on('error', () => stream.destroy());
    stream.on('error', () => socket.destroy());
    stream.once('close', () => socket.destroy());
    socket.once('close', () => {
      if (!stream.destroyed) stream.end();
    });
    socket.pipe(new Coalescer()).pipe(stream);
    stream.pipe(socket);
    log.debug('upgrade established');
  });
  req.once('response', (res) => {
    settled = true;
    clearTimeout(timer);
    const headers = stripHopByHop(pairsFromRaw(res.rawHeaders));
    stream.write(encodeMessage({ type: 'response_head', status: res.statusCode ?? 502, headers }));
    stream.resume();
    // pipeline, not pipe: an origin that breaks mid-body resets the tunnel stream instead of
    // leaving it open (and its slot on the hub taken) forever.
    pipeline(res, stream).catch((err: Error & { code?: string }) => {
      log.info({ code: err.code }, 'response to the upgrade request ended early');
      res.destroy();
      stream.destroy();
    });
  });
  // Cancelled before the origin answered. (Later, the pipeline or the joined socket handle it.)
  stream.once('close', () => {
    clearTimeout(timer);
    if (settled) return;
    settled = true;
    req.destroy();
  });
  req.end();
}
