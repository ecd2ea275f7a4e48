import { EventEmitter } from 'node:events';
import type { Dispatcher } from 'undici';
import { lazyChild, type Logger } from '@hopgate/log';
import { ErrorCode, errorMessageOf, type ErrorCode as Code } from '@hopgate/errors';
import { Exchange, ExchangeState, cancelOn, causeOf, deadline, onCancel, type CancelCause } from '@hopgate/exchange';
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
 * Serves one request stream opened by the hub, as a pipeline over one Exchange (libs/exchange):
 * read the head, call the local service with undici (no redirect following), stream the
 * response back. The hub resetting the stream (the browser left, a timeout there) cancels the
 * exchange, which aborts the local request; a local failure cancels it with its own cause,
 * answered to the hub as a stream_error before any response head, as a reset after.
 *
 *   opening: the request goes to the local service (its body still streaming)
 *   head:    the whole request is with the local service; response_header_timeout_ms runs
 *   streaming: the response head went back; the body follows
 */
export async function serveOriginRequest(stream: TransportStream, ctx: OriginRequestContext): Promise<void> {
  const head = await readRequestHead(stream, ctx.logger);
  if (head === undefined) return;
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
  const ex = new Exchange();
  cancelByHub(ex, stream, log);
  const requestBody = head.has_body ? stream.pipe(new Coalescer()) : null;
  if (requestBody === null) stream.resume(); // only FIN follows the head
  // response_header_timeout_ms counts from the end of the request. Without a body undici times
  // it (its clock starts once the request is written, after connect); with a body the clock
  // here starts when the whole body has been handed to the local service, so an upload of any
  // length is never cut by it.
  const headerTimeout: CancelCause = { code: ErrorCode.Timeout, message: responseHeaderTimeoutMessage(head.service, ctx.timeouts.responseHeaderMs), source: 'timeout' };
  if (requestBody === null) ex.accepted();
  else {
    requestBody.once('end', () => {
      if (ex.accepted()) deadline(ex, ExchangeState.Streaming, ctx.timeouts.responseHeaderMs, headerTimeout);
    });
  }
  /** Before the response head: a cancel the hub did not cause is answered to it as a stream_error. */
  const answerCancel = (cause: CancelCause, originCode: string | undefined): void => {
    if (cause.source === 'client' || stream.destroyed) return;
    log.warn({ code: cause.code, ...(originCode === undefined ? {} : { origin_code: originCode }) }, cause.message);
    answerError(stream, ctx, head.service, cause.code, cause.message);
  };
  let response: Dispatcher.ResponseData;
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
      signal: abortSignalOf(ex),
    });
  } catch (err) {
    ex.cancel(originFailureCause(err, head.service, target, ctx.timeouts));
    answerCancel(ex.cause!, (err as { code?: string }).code);
    return;
  }
  if (ex.done) {
    // Cancelled (the hub's reset, the header timeout) as the head came in: undici had nothing left to abort.
    response.body.destroy();
    answerCancel(ex.cause!, undefined);
    return;
  }
  ex.headArrived();
  /** The local service's time to its response head, in ms (the access log's origin_ms; Server-Timing at the ingress). */
  const originMs = ex.headMs!;
  // Once the origin's body is fully read the exchange is complete: a later close of the tunnel
  // stream is no cancel.
  response.body.once('end', () => ex.complete());
  const headers = stripHopByHop(pairsFromUndici(response.headers));
  // Backpressure on the head alone is fine: the pipeline below waits for drain.
  stream.write(encodeMessage({ type: 'response_head', status: response.statusCode, headers, extensions: [originTimingExtension(originMs * 1000)] }));
  ctx.metrics?.served(head.service, response.statusCode);
  try {
    await pipeStreams(response.body, stream);
    ex.complete();
    log.info({ method: head.method, status: response.statusCode, origin_ms: roundMs(originMs), duration_ms: roundMs(ex.heldMs) }, 'request served');
  } catch (err) {
    const code = (err as { code?: string }).code;
    // A reset from the hub (the browser left, a timeout there) is a cancel; anything else cut
    // the response here, on the local side. The browser's response is cut (reset, not ended):
    // a truncated body is never passed off as whole.
    const byHub = ex.cause?.source === 'client' || fromHub(err);
    if (!byHub) {
      const timedOut = code === BODY_TIMEOUT_CODE;
      const message = timedOut ? bodyIdleTimeoutMessage(head.service, ctx.timeouts.bodyIdleMs) : `response from local service ${head.service} cut: its body failed mid-stream`;
      ex.cancel({ code: timedOut ? ErrorCode.Timeout : ErrorCode.StreamReset, message, source: timedOut ? 'timeout' : 'local' });
      if (timedOut) log.warn({ code }, message);
      else log.warn({ code, err_message: errorMessageOf(err), duration_ms: roundMs(ex.heldMs) }, message);
      ctx.metrics?.originError(head.service, timedOut ? ErrorCode.Timeout : BODY_CUT_METRIC_CODE);
    }
    response.body.destroy();
    stream.destroy();
  }
}

/** The request head, the first message of a stream from the hub; undefined (the stream closed) when it is not one. */
async function readRequestHead(stream: TransportStream, logger: Logger): Promise<RequestHead | undefined> {
  try {
    const msg = await new MessageStreamReader(stream).readMessage();
    if (msg.type !== 'request_head') throw new Error(`expected request_head, got ${msg.type}`);
    return msg;
  } catch (err) {
    logger.warn({ err, stream_id: stream.id }, 'bad request stream from hub: closing that stream');
    stream.destroy();
    return undefined;
  }
}

/** A stream error that came from the hub: its RESET (the browser left, a timeout there). */
function fromHub(err: unknown): boolean {
  return (err as { remote?: unknown }).remote === true || (err as { code?: string }).code === ErrorCode.StreamReset;
}

/**
 * The tunnel stream closing before the exchange is done cancels it: with source 'client' when
 * the hub reset it (or closed it without an error), else with the error it broke with (the
 * session went away, or the response pipeline destroyed it with a local error).
 */
function cancelByHub(ex: Exchange, stream: TransportStream, log: Logger): void {
  let broke: unknown;
  stream.on('error', (err) => {
    broke = err;
  });
  cancelOn(ex, stream, 'close', () =>
    broke === undefined || fromHub(broke)
      ? { code: ErrorCode.StreamReset, message: 'request cancelled by the hub', source: 'client' }
      : causeOf(broke, 'local', ErrorCode.StreamReset),
  );
  onCancel(ex, (cause) => {
    if (cause.source === 'client') log.info({ code: cause.code, reason: cause.message }, 'request cancelled by the hub: aborting local request');
  });
}

/**
 * undici takes an EventEmitter with an 'abort' event as the request's signal: cheaper per
 * request than an AbortController (an EventTarget, and a DOMException when it fires). It fires
 * when the exchange is cancelled.
 */
function abortSignalOf(ex: Exchange): EventEmitter {
  const signal = new EventEmitter();
  onCancel(ex, () => signal.emit('abort'));
  return signal;
}

/** Why the local request failed before its response head: a timeout or an unreachable service (source 'local'). */
function originFailureCause(err: unknown, service: string, target: ListenAddress, timeouts: OriginTimeouts): CancelCause {
  const code = (err as { code?: string }).code ?? '';
  const where = formatHostPort(target);
  if (code === CONNECT_TIMEOUT_CODE) return { code: ErrorCode.Timeout, message: connectTimeoutMessage(service, where, timeouts.connectMs), source: 'timeout' };
  if (code === HEADERS_TIMEOUT_CODE) return { code: ErrorCode.Timeout, message: responseHeaderTimeoutMessage(service, timeouts.responseHeaderMs), source: 'timeout' };
  if (UNREACHABLE_CODES.has(code)) return { code: ErrorCode.OriginUnreachable, message: `cannot reach local service "${service}" at ${where}: ${code}`, source: 'local' };
  return { code: ErrorCode.OriginUnreachable, message: `local request to "${service}" failed: ${code || errorMessageOf(err)}`, source: 'local' };
}

/** A duration in ms with microsecond precision, for the logs. */
function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
