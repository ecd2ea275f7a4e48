import { EventEmitter } from 'node:events';
import type { Dispatcher } from 'undici';
import { lazyChild, type Logger } from '@hopgate/log';
import { ErrorCode, errorMessageOf, type ErrorCode as Code } from '@hopgate/errors';
import { formatHostPort, type ListenAddress } from '@hopgate/config';
import type { TransportStream } from '@hopgate/transport';
import { MessageStreamReader, encodeMessage, originTimingExtension, type HeaderPairs, type RequestHead } from '@hopgate/wire';
import { Coalescer, flattenHeaders, pipeStreams, stripHopByHop } from '@hopgate/http-tunnel';
import { isUpgrade, serveOriginUpgrade } from './origin-upgrade.js';
import { bodyIdleTimeoutMessage, connectTimeoutMessage, responseHeaderTimeoutMessage, type OriginTimeouts } from './origin-timeouts.js';

export interface OriginRequestContext {
  /** Service name -> local address. A Map, so a name from the wire never finds an inherited property. */
  services: ReadonlyMap<string, ListenAddress>;
  /** undici dispatcher built with the same connect.timeout and bodyTimeout (headersTimeout off: timed here). */
  dispatcher: Dispatcher;
  /** The limits the dispatcher applies (for messages) and the upgrade path applies itself. */
  timeouts: OriginTimeouts;
  logger: Logger;
  /** Requests served and origin errors (GET /metrics on `ops_listen`); absent without an ops listener. */
  metrics?: { served(service: string, status: number): void; originError(service: string, code: string): void } | undefined;
}

/** `code` of an origin error where the response body broke after its head went out (agent metrics). */
export const BODY_CUT_METRIC_CODE = 'body_cut';

/** undici error codes that mean "the local service cannot be reached". */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
/** undici: no TCP connection within `connect.timeout`. */
const CONNECT_TIMEOUT_CODE = 'UND_ERR_CONNECT_TIMEOUT';
/** undici: no complete response head within `headersTimeout` (bodiless requests). */
const HEADERS_TIMEOUT_CODE = 'UND_ERR_HEADERS_TIMEOUT';
/** undici: no body data for `bodyTimeout` while the body was being read. */
const BODY_TIMEOUT_CODE = 'UND_ERR_BODY_TIMEOUT';

function pairsFromUndici(headers: Record<string, string | string[] | undefined>): HeaderPairs {
  const out: HeaderPairs = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push([name, v]);
    else out.push([name, value]);
  }
  return out;
}

/** Longest stream_error message sent, in characters: it may quote names from the wire. */
export const MAX_STREAM_ERROR_MESSAGE_CHARS = 1024;

/** Answers the stream with a stream_error, counted as an origin error of `service` ('' for an unknown one). */
function answerError(stream: TransportStream, ctx: OriginRequestContext, service: string, code: Code, message: string): void {
  ctx.metrics?.originError(service, code);
  writeError(stream, code, message);
}

function writeError(stream: TransportStream, code: Code, message: string): void {
  stream.resume(); // drain any request body so the stream can finish on both ends
  const text = message.length > MAX_STREAM_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_STREAM_ERROR_MESSAGE_CHARS)}...` : message;
  stream.end(encodeMessage({ type: 'stream_error', code, message: text }));
}

/**
 * Serves one request stream opened by the hub: reads the head, calls the local service
 * with undici (no redirect following), streams the response back. If the stream is reset
 * (the browser left, a timeout), the local request is aborted.
 */
export async function serveOriginRequest(stream: TransportStream, ctx: OriginRequestContext): Promise<void> {
  const reader = new MessageStreamReader(stream);
  let head: RequestHead;
  try {
    const msg = await reader.readMessage();
    if (msg.type !== 'request_head') throw new Error(`expected request_head, got ${msg.type}`);
    head = msg;
  } catch (err) {
    ctx.logger.warn({ err, stream_id: stream.id }, 'bad request stream from hub: closing that stream');
    stream.destroy();
    return;
  }
  const log = lazyChild(ctx.logger, { request_id: head.request_id, local_service: head.service });
  const target = ctx.services.get(head.service);
  if (target === undefined) {
    log.warn('request for a service this agent does not serve');
    answerError(stream, ctx, '', ErrorCode.UnknownService, `agent has no service "${head.service}"`);
    return;
  }
  if (isUpgrade(head)) {
    try {
      serveOriginUpgrade(stream, head, target, ctx.timeouts, log);
    } catch (err) {
      // Node's http client refuses some heads synchronously (a method or header name it cannot send).
      log.warn({ err }, 'upgrade request head refused by the local HTTP client');
      answerError(stream, ctx, head.service, ErrorCode.BadFrame, `request head for "${head.service}" cannot be sent: ${errorMessageOf(err)}`);
    }
    return;
  }
  // undici takes an EventEmitter with an 'abort' event as the request's signal: cheaper per
  // request than an AbortController (an EventTarget, and a DOMException when it fires).
  const cancel = new EventEmitter();
  let cancelled = false;
  let finished = false;
  stream.once('close', () => {
    if (finished) return;
    cancelled = true;
    cancel.emit('abort');
  });
  stream.on('error', (err) => {
    // Only a reset from the hub is a cancel; our own resets (a body timeout) are logged below.
    if (!finished && (err as { code?: string }).code === ErrorCode.StreamReset) {
      log.info({ code: ErrorCode.StreamReset }, 'request cancelled by the hub: aborting local request');
    }
  });
  if (!head.has_body) stream.resume(); // only FIN follows the head
  const started = Date.now();
  // response_header_timeout_ms counts from the end of the request. Without a body undici
  // times it (its clock starts once the request is written, after connect); with a body the
  // clock here starts when the whole body has been handed to the local service, so an upload
  // of any length is never cut by it.
  let headerTimer: NodeJS.Timeout | undefined;
  let headerTimedOut = false;
  const startHeaderTimer = (): void => {
    if (ctx.timeouts.responseHeaderMs <= 0 || cancelled || headerTimer) return;
    headerTimer = setTimeout(() => {
      headerTimedOut = true;
      cancel.emit('abort');
    }, ctx.timeouts.responseHeaderMs);
  };
  const requestBody = head.has_body ? stream.pipe(new Coalescer()) : null;
  if (requestBody) requestBody.once('end', startHeaderTimer);
  let response: Dispatcher.ResponseData;
  const originStarted = performance.now();
  try {
    response = await ctx.dispatcher.request({
      origin: `http://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`,
      path: head.path,
      method: head.method as Dispatcher.HttpMethod,
      headers: flattenHeaders(head.headers),
      // undici destroys a stream body when it is done with it; hand it a separate stream so
      // the tunnel stream (whose other half carries the response) lives on. The Coalescer
      // also joins datagram-sized chunks into fewer socket writes.
      body: requestBody,
      headersTimeout: requestBody ? 0 : ctx.timeouts.responseHeaderMs,
      signal: cancel,
    });
  } catch (err) {
    clearTimeout(headerTimer);
    const code = (err as { code?: string }).code ?? '';
    if (headerTimedOut && !stream.destroyed) {
      const message = responseHeaderTimeoutMessage(head.service, ctx.timeouts.responseHeaderMs);
      log.warn({ code: ErrorCode.Timeout }, message);
      answerError(stream, ctx, head.service, ErrorCode.Timeout, message);
      return;
    }
    if (cancelled || stream.destroyed) return;
    const where = formatHostPort(target);
    if (code === CONNECT_TIMEOUT_CODE) {
      const message = connectTimeoutMessage(head.service, where, ctx.timeouts.connectMs);
      log.warn({ code }, message);
      answerError(stream, ctx, head.service, ErrorCode.Timeout, message);
    } else if (code === HEADERS_TIMEOUT_CODE) {
      const message = responseHeaderTimeoutMessage(head.service, ctx.timeouts.responseHeaderMs);
      log.warn({ code }, message);
      answerError(stream, ctx, head.service, ErrorCode.Timeout, message);
    } else if (UNREACHABLE_CODES.has(code)) {
      log.warn({ code }, `cannot reach local service ${head.service} at ${where}`);
      answerError(stream, ctx, head.service, ErrorCode.OriginUnreachable, `cannot reach local service "${head.service}" at ${where}: ${code}`);
    } else {
      log.warn({ err }, 'local request failed');
      answerError(stream, ctx, head.service, ErrorCode.OriginUnreachable, `local request to "${head.service}" failed: ${code || (err as Error).message}`);
    }
    return;
  }
  clearTimeout(headerTimer);
  /** The local service's time to its response head, in ms (the access log's origin_ms; Server-Timing at the ingress). */
  const originMs = performance.now() - originStarted;
  // Once the origin's body is fully read, a later close of the tunnel stream is no cancel.
  response.body.once('end', () => {
    finished = true;
  });
  const headers = stripHopByHop(pairsFromUndici(response.headers));
  if (!stream.write(encodeMessage({ type: 'response_head', status: response.statusCode, headers, extensions: [originTimingExtension(originMs * 1000)] }))) {
    // Backpressure on the head alone is fine: the pipeline below waits for drain.
  }
  try {
    ctx.metrics?.served(head.service, response.statusCode);
    await pipeStreams(response.body, stream);
    finished = true;
    log.info({ method: head.method, status: response.statusCode, origin_ms: roundMs(originMs), duration_ms: Date.now() - started }, 'request served');
  } catch (err) {
    finished = true;
    const code = (err as { code?: string }).code;
    // A reset from the hub (the browser left, a timeout there) is a cancel; anything else cut
    // the response here, on the local side. (`cancelled` cannot tell them apart: our own
    // destroy of the tunnel stream also closes it before this runs.)
    const cancelledByHub = (err as { remote?: unknown }).remote === true || code === ErrorCode.StreamReset;
    // The browser's response is cut (reset, not ended): a truncated body is never passed off as whole.
    if (code === BODY_TIMEOUT_CODE) log.warn({ code }, bodyIdleTimeoutMessage(head.service, ctx.timeouts.bodyIdleMs));
    else if (!cancelledByHub) {
      log.warn(
        { code, err_message: errorMessageOf(err), duration_ms: Date.now() - started },
        `response from local service ${head.service} cut: its body failed mid-stream`,
      );
    }
    if (!cancelledByHub) ctx.metrics?.originError(head.service, code === BODY_TIMEOUT_CODE ? ErrorCode.Timeout : BODY_CUT_METRIC_CODE);
    response.body.destroy();
    stream.destroy();
  }
}

/** A duration in ms with microsecond precision, for the logs. */
function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
