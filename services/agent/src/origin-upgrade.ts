import http from 'node:http';
import type { Logger } from '@hopgate/log';
import { ErrorCode } from '@hopgate/errors';
import type { ListenAddress } from '@hopgate/config';
import type { TransportStream } from '@hopgate/transport';
import { encodeMessage, type RequestHead } from '@hopgate/wire';
import { Coalescer, flattenHeaders, pairsFromRaw, stripHopByHop } from '@hopgate/http-tunnel';

/** Whether a request head asks for a protocol upgrade (WebSocket). */
export function isUpgrade(head: RequestHead): boolean {
  return head.headers.some(([name]) => name === 'upgrade');
}

/**
 * An Upgrade request against the local service with Node's http client (undici has no
 * client-side upgrade that also passes a non-101 answer through). On 101 the tunnel stream
 * and the origin socket are joined both ways; any other answer is relayed as a response.
 */
export function serveOriginUpgrade(stream: TransportStream, head: RequestHead, target: ListenAddress, connectTimeoutMs: number, log: Logger): void {
  const req = http.request({
    host: target.host,
    port: target.port,
    method: head.method,
    path: head.path,
    headers: flattenHeaders(head.headers) as unknown as http.OutgoingHttpHeaders,
    agent: false,
    timeout: connectTimeoutMs,
  });
  let settled = false;
  const writeError = (code: ErrorCode, message: string): void => {
    if (settled) return;
    settled = true;
    stream.resume();
    stream.end(encodeMessage({ type: 'stream_error', code, message }));
  };
  req.once('timeout', () => {
    req.destroy();
    writeError(ErrorCode.OriginUnreachable, `local service "${head.service}" did not answer the upgrade in time`);
  });
  req.once('error', (err: Error & { code?: string }) => {
    log.warn({ code: err.code }, 'upgrade to the local service failed');
    writeError(ErrorCode.OriginUnreachable, `cannot reach local service "${head.service}" at ${target.host}:${target.port}: ${err.code ?? err.message}`);
  });
  req.once('upgrade', (res, socket, early) => {
    settled = true;
    req.setTimeout(0);
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
    req.setTimeout(0);
    const headers = stripHopByHop(pairsFromRaw(res.rawHeaders));
    stream.write(encodeMessage({ type: 'response_head', status: res.statusCode ?? 502, headers }));
    stream.resume();
    res.pipe(stream);
  });
  stream.once('close', () => {
    if (!settled) req.destroy();
  });
  req.end();
}
