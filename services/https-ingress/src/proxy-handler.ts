import { lazyChild, type Logger } from '@hopgate/log';
import { HopError, ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import type { RouteLoader, RouteMatch, RouteTarget } from '@hopgate/routes';
import type { OwnerCache, LiveInstance } from '@hopgate/sessions';
import type { RelayClient, RelayClientStream } from '@hopgate/relay';
import { ExchangeState, cancelOn, deadline, deadlineFrom, onCancel, type CancelCause } from '@hopgate/exchange';
import type { AddressSet } from '@hopgate/net-address';
import { stripHopByHop, type RequestClient } from '@hopgate/http-tunnel';
import { originMicrosOf, type RelayEnvelope, type ResponseHead } from '@hopgate/wire';
import { failureOf, openRelayAttempt, responseTimeoutCause, type RelayAttempt } from './relay-attempt.js';
import { instanceKeyOf, type InstancePicker } from './instance-picker.js';
import { buildRequestHead, headerListSize } from './request-head.js';
import { publicReasonFor, sendError, statusForCode } from './error-status.js';
import { abortResponse, clientGone, isHttp2, pipeRequestBody, stopRequestBody, writeResponseHead, type PublicRequest, type PublicResponse } from './public-http.js';
import { cancelOnBodyStall, isBodyStall, type BodyStall } from './body-idle.js';
import { admitRequest, type Refusal } from './request-admission.js';
import { encodeOpenHead, encodeRequestHead } from './open-head.js';
import { roundMs, serverTimingValue } from './server-timing.js';
import { checkResponseHead, pipeResponseBody, REQUEST_ID_HEADER } from './response-framing.js';
import { requestClientOf, type ConnectionAddresses } from './client-address.js';
import { serveFallback } from './route-fallback.js';
import type { RequestTarget } from './request-head.js';
import type { FallbackKind, RequestSample } from '@hopgate/metrics';

/** The answer to an upload that stalls or never starts before the response head: 408 Request Timeout (RFC 9110 §15.5.9). */
export const BODY_IDLE_STATUS = 408;

/** Idempotent methods may be sent twice with the effect of once (RFC 9110 §9.2.2). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * Failures of the way to the agent (hub or agent gone, session moved, stream reset, instance
 * busy) after which the request may go again to another instance. Not: an answer from the agent
 * (origin unreachable, unknown service), a malformed answer, NATS unreachable, and the
 * ingress's own response timeout (a cause with source 'timeout').
 */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.ClientOffline,
  ErrorCode.Closed,
  ErrorCode.StreamReset,
  ErrorCode.Timeout,
  ErrorCode.Busy,
  ErrorCode.SessionReplaced,
  ErrorCode.Draining,
  ErrorCode.Internal,
]);

/** The browser left before the response was whole (HTTP/1.1 close, HTTP/2 RST_STREAM). */
const CLIENT_LEFT: CancelCause = { code: ErrorCode.StreamReset, message: 'the browser went away', source: 'client' };
/** The agent's body ended before its Content-Length: the response was cut where it happened. */
const BODY_CUT: CancelCause = { code: ErrorCode.Protocol, message: 'response body shorter than its Content-Length from the agent', source: 'local' };
/** The route's fallback took the request over from this attempt. */
const TAKEN_OVER: CancelCause = { code: ErrorCode.ClientOffline, message: "the route's fallback took the request over", source: 'local' };
/** A failure inside the ingress ended the request (internalError answers it). */
const INTERNAL: CancelCause = { code: ErrorCode.Internal, message: 'request failed inside the ingress', source: 'local' };

/** The agent's response head cannot go to the browser (response-framing.ts). */
function badResponseHead(reason: string): CancelCause {
  return { code: ErrorCode.Protocol, message: `invalid response head from the agent: ${reason}`, source: 'peer' };
}

export interface ProxyContext {
  routes: RouteLoader;
  /** Live agent instances per client (InstanceStore behind an OwnerCache). */
  owners: OwnerCache<LiveInstance[]>;
  /** Least-streams-in-flight choice among a client's instances (this ingress's counts). */
  picker: InstancePicker;
  relay: RelayClient;
  responseTimeoutMs: number;
  /** HOPGATE_SERVER_TIMING: add a Server-Timing header to every relayed response. */
  serverTiming?: boolean;
  /** Largest request head accepted, in bytes (HOPGATE_MAX_HEADER_BYTES). */
  maxHeaderBytes: number;
  /** A request body with no progress for this long is cancelled (HOPGATE_BODY_IDLE_TIMEOUT_MS). */
  bodyIdleTimeoutMs: number;
  /** An announced request body with no byte for this long is cancelled (HOPGATE_BODY_START_TIMEOUT_MS). */
  bodyStartTimeoutMs: number;
  nextRequestId(): string;
  logger: Logger;
  /** HOPGATE_TRUSTED_PROXIES: peers whose X-Forwarded-For is believed. */
  trustedProxies: AddressSet;
  /** Each connection's client address (PROXY protocol source or TCP peer). */
  connections: ConnectionAddresses;
  /** Request metrics (GET /metrics): one sample per finished request; absent without an ops listener. */
  metrics?: { observe(sample: RequestSample): void; upgraded(sample: { status: number; route: string; client: string }): void } | undefined;
}

/**
 * One public request (HTTP/1.1 or HTTP/2) as a pipeline:
 *
 *   admit (target, Host, path, route) -> look up the client's instances (cached) -> pick one
 *   -> one relay attempt = one Exchange (libs/exchange; relay-attempt.ts) with its wrappers:
 *      the browser's close, the response timeout from the end of the upload, the body's stalls
 *   -> the checked response head and its body within its framing -> complete
 *   a cancelled attempt -> `cancelled`: sent once more elsewhere (mayRetry), the route's
 *      fallback (route-fallback.ts), or a status for its code (error-status.ts)
 *
 * Nothing but cached lookups stands between the request and the relay. `expectContinue`: the browser sent `Expect: 100-continue` and waits
 * before sending its body; it gets 100 Continue only once the route and the client's session
 * are known (RFC 9110 §10.1.1), else the final error status at once.
 *
 * Containment: whatever fails on this request's path (a bug included) ends this request alone,
 * with a status and a log line carrying its request id; no promise is left unhandled.
 */
export function proxyRequest(req: PublicRequest, res: PublicResponse, proto: 'http' | 'https', ctx: ProxyContext, expectContinue = false): void {
  const requestId = ctx.nextRequestId();
  const flow = new ProxyFlow(req, res, proto, ctx, expectContinue, requestId);
  if (ctx.metrics) res.once('close', () => flow.recordMetrics());
  try {
    flow.start();
  } catch (err) {
    flow.internalError(err);
  }
}

/**
 * One public request's way through the ingress, above its relay attempts (at most two: a retry;
 * or the fallback's): its failure paths all end in `fail` or `internalError`.
 */
class ProxyFlow {
  private readonly started = Date.now();
  /** performance.now() at the start, for the sub-millisecond durations (head_ms, Server-Timing). */
  private readonly startedAt = performance.now();
  private readonly h1: boolean;
  private log: Logger;
  private answered = false;
  /** The relay attempt in use (the last one sent; undefined before the first and once a fallback took over). */
  private attempt: RelayAttempt | undefined;
  /** Without a 100, the browser may never send the body it announced: the connection can't be reused. */
  private readonly unreadBody: boolean;
  private clientId: string | undefined;
  /** The request as the relay carries it, without the instance (added per attempt). */
  /** Where the request goes (the instance is added per attempt). */
  private open: RelayEnvelope | undefined;
  /** The request head, encoded once for every attempt. */
  private headBytes: Uint8Array | undefined;
  /** Sessions (instanceKeyOf) that failed this request: a retry goes elsewhere. */
  private readonly failedOn = new Set<string>();
  /** Set once the request was sent again: never a second retry. */
  private firstFailure: { err: unknown; instanceKey: string } | undefined;
  /** The matched route, its target as the origin will see it, and the client's address: set once admitted. */
  private admitted: { route: RouteMatch; target: RequestTarget; client: RequestClient } | undefined;
  /** The request went to the route's fallback: no further fallback (route-fallback.ts). */
  private onFallback = false;
  /** How the route's fallback took the request over (metrics). */
  private fallbackKind: FallbackKind | undefined;
  private hasBody = false;

  constructor(
    private readonly req: PublicRequest,
    private readonly res: PublicResponse,
    private readonly proto: 'http' | 'https',
    private readonly ctx: ProxyContext,
    private readonly expectContinue: boolean,
    private readonly requestId: string,
  ) {
    this.h1 = !isHttp2(req);
    this.unreadBody = expectContinue;
    this.log = lazyChild(ctx.logger, { request_id: requestId });
  }

  start(): void {
    const { req, ctx } = this;
    const client = requestClientOf(req, this.proto, ctx);
    this.log = lazyChild(ctx.logger, { request_id: this.requestId, client_ip: client.clientIp });
    // HTTP/2 enforces SETTINGS_MAX_HEADER_LIST_SIZE only once the browser acknowledged it: check here too.
    if (!this.h1 && headerListSize(req.rawHeaders) > ctx.maxHeaderBytes) {
      this.refuse({ status: 431, publicText: 'request header fields too large', reason: `header list over HOPGATE_MAX_HEADER_BYTES (${ctx.maxHeaderBytes})` }, true);
      return;
    }
    const admission = admitRequest(req, ctx.routes.current);
    if (!admission.ok) {
      // A refused request's body is not read: HTTP/1.1 closes when the body may still come.
      this.refuse(admission.refusal, admission.refusal.status === 400 || this.unreadBody);
      return;
    }
    const { match, target } = admission.request;
    this.admitted = { route: match, target, client };
    this.relayTo(match);
  }

  /** Relays the request to `to`: the route's own client, or its fallback (`fallback` is its label). */
  private relayTo(to: RouteTarget, fallback?: string): void {
    const { req, ctx } = this;
    const { route: match, target, client } = this.admitted!;
    this.clientId = to.clientId;
    this.log = lazyChild(ctx.logger, { request_id: this.requestId, client_id: to.clientId, route: match.route, client_ip: client.clientIp, ...(fallback === undefined ? {} : { fallback }) });
    const head = buildRequestHead(req, target, this.requestId, to.service, client);
    this.hasBody = head.has_body;
    this.open = { clientId: to.clientId, route: match.route, hasBody: head.has_body };
    const encoded = encodeRequestHead(head);
    if (!encoded.ok) {
      this.refuse({ status: 431, publicText: 'request header fields too large', reason: encoded.reason }, true);
      return;
    }
    this.headBytes = encoded.bytes;
    // Measured before anything is sent (the instance id, added later, is at most 64 bytes more).
    const open = encodeOpenHead(this.open, this.headBytes);
    if (!open.ok) {
      this.refuse({ status: 431, publicText: 'request header fields too large', reason: open.reason }, true);
      return;
    }
    this.route();
  }

  /** Looks up the client's live instances (cached) and forwards to the least busy one not yet failed. */
  private route(): void {
    const { req, ctx } = this;
    const open = this.open!;
    const clientId = open.clientId;
    ctx.owners
      .lookup(clientId)
      .then(
        (instances) => {
          // A browser gone before the lookup answered (a rapid reset) costs the hubs nothing.
          if (clientGone(req)) return this.log.debug({ duration_ms: Date.now() - this.started }, 'client went away before the request was relayed');
          const instance = ctx.picker.pick(clientId, instances, this.failedOn);
          if (!instance) {
            const offline = new HopError(
              ErrorCode.ClientOffline,
              this.firstFailure === undefined
                ? `client "${clientId}" is offline (no agent session)`
                : `no other live instance of client "${clientId}" after: ${errorMessageOf(this.firstFailure.err)}`,
            );
            // Every instance failed: the route's fallback, if it has one (a page, or a bodyless idempotent request to another client).
            if (this.firstFailure !== undefined && this.useFallback(offline, this.unreadBody)) return;
            // After a failure with nowhere else to go, the first failure is the answer.
            this.fail(this.firstFailure?.err ?? offline, this.unreadBody);
            // Unless a fallback took the request (and its body) over: then it is not drained.
            if (this.answered) req.resume();
            return;
          }
          const bytes = encodeOpenHead(instance.instanceId === '' ? open : { ...open, instanceId: instance.instanceId }, this.headBytes!);
          if (!bytes.ok) {
            this.refuse({ status: 431, publicText: 'request header fields too large', reason: bytes.reason }, true);
            return;
          }
          this.forward(instance, bytes.bytes, open.hasBody);
        },
        (err: unknown) => {
          req.resume();
          this.fail(this.firstFailure?.err ?? new HopError(ErrorCode.Unavailable, `cannot look up the session of client "${clientId}" in Redis: ${errorMessageOf(err)}`), this.unreadBody);
        },
      )
      .catch((err: unknown) => this.internalError(err));
  }

  /**
   * Whether a cancelled attempt may be answered by sending the request again: not yet retried,
   * nothing answered to the browser, an idempotent method (RFC 9110 §9.2.2) without a request
   * body, a failure of the way (RETRYABLE_CODES), not one of the ingress's own timeouts.
   */
  private mayRetry(cause: CancelCause, hasBody: boolean): boolean {
    return (
      this.firstFailure === undefined &&
      !this.answered &&
      !this.res.headersSent &&
      !hasBody &&
      IDEMPOTENT_METHODS.has(this.req.method ?? '') &&
      cause.source !== 'timeout' &&
      RETRYABLE_CODES.has(cause.code) &&
      !clientGone(this.req)
    );
  }

  /** Sends the request once more, to another instance or to the owner as it is now. */
  private retry(err: unknown, instanceKey: string): void {
    this.firstFailure = { err, instanceKey };
    this.failedOn.add(instanceKey);
    this.log.info({ code: errorCodeOf(err), reason: errorMessageOf(err), failed_instance: instanceKey }, 'request failed before its answer: retrying once');
    this.ctx.owners.invalidate(this.open!.clientId);
    this.route();
  }

  /** Fields of the access log line about a retry (none for a request sent once). */
  private retryFields(): Record<string, unknown> {
    if (!this.firstFailure) return {};
    return { retried: true, first_failure_code: errorCodeOf(this.firstFailure.err), first_failure_reason: errorMessageOf(this.firstFailure.err) };
  }

  /**
   * An instance is chosen: one relay attempt (one Exchange) carries the request and its answer.
   * The pipeline: the attempt's own stream events (relay-attempt.ts), the browser's close, the
   * response timeout from the end of the upload, the request body's stalls; every cancel ends in
   * `cancelled`, which decides what the cause means for the request.
   */
  private forward(instance: LiveInstance, openBytes: Uint8Array, hasBody: boolean): void {
    const { req, res, ctx } = this;
    const instanceKey = instanceKeyOf(this.open!.clientId, instance);
    if (!ctx.relay.connected) {
      this.fail(new HopError(ErrorCode.Unavailable, 'the message bus (NATS) is unreachable from this ingress; retry shortly'), this.unreadBody);
      req.resume();
      return;
    }
    const attempt: RelayAttempt = openRelayAttempt(ctx.relay, instance.hubId, openBytes, this.requestId, (head) => this.respond(attempt, head, instance, hasBody));
    const { exchange: ex, stream } = attempt;
    this.attempt = attempt;
    stream.once('close', ctx.picker.acquire(instanceKey));
    onCancel(ex, (cause) => this.cancelled(attempt, cause, instanceKey, hasBody));
    // The browser left (HTTP/1.1 close, HTTP/2 RST_STREAM) or the request broke: cancel on every hop.
    // (The exchange, not res.writableFinished: an HTTP/2 response reset by the browser reports finished.)
    cancelOn(ex, res, 'close', () => CLIENT_LEFT);
    const responseTimeout = responseTimeoutCause(this.clientId ?? '', ctx.responseTimeoutMs);
    if (!hasBody) {
      deadline(ex, ExchangeState.Streaming, ctx.responseTimeoutMs, responseTimeout);
      req.resume();
      stream.end();
      return;
    }
    if (this.expectContinue) res.writeContinue();
    // HOPGATE_RESPONSE_TIMEOUT_MS counts from the end of the upload.
    deadlineFrom(ex, req, 'end', ExchangeState.Streaming, ctx.responseTimeoutMs, responseTimeout);
    pipeRequestBody(req, stream);
    cancelOnBodyStall(ex, req, { startTimeoutMs: ctx.bodyStartTimeoutMs, idleTimeoutMs: ctx.bodyIdleTimeoutMs });
  }

  /** The attempt's response head arrived (the exchange is streaming): checked, written, its body piped within its framing. */
  private respond(attempt: RelayAttempt, response: ResponseHead, instance: LiveInstance, hasBody: boolean): void {
    const { req, res, ctx } = this;
    const { exchange: ex, stream } = attempt;
    const checked = checkResponseHead(response, req.method ?? 'GET', false);
    if (!checked.ok) {
      ex.cancel(badResponseHead(checked.reason));
      return;
    }
    const headMs = performance.now() - this.startedAt;
    const originMicros = originMicrosOf(response.extensions);
    const originMs = originMicros === undefined ? undefined : originMicros / 1000;
    const headers = stripHopByHop(checked.head.headers);
    headers.push([REQUEST_ID_HEADER, this.requestId]);
    if (ctx.serverTiming) headers.push(['server-timing', serverTimingValue(headMs, originMs)]);
    try {
      writeResponseHead(res, checked.head.status, headers);
    } catch (err) {
      ex.cancel(badResponseHead(errorMessageOf(err)));
      return;
    }
    pipeResponseBody(stream, res, checked.head, (outcome) => {
      if (outcome.kind === 'complete') {
        ex.complete();
        // The response is complete: a request body still on its way is no longer wanted.
        if (hasBody && !req.readableEnded) stream.destroy();
        this.log.info({ status: checked.head.status, hub_id: instance.hubId, instance_id: instance.instanceId, duration_ms: Date.now() - this.started, head_ms: roundMs(headMs), ...(originMs === undefined ? {} : { origin_ms: roundMs(originMs) }), ...this.retryFields() }, 'request served');
        return;
      }
      if (outcome.kind === 'overflow') {
        // The browser got exactly Content-Length bytes: whole by its framing; the excess is dropped.
        ex.complete();
        this.log.warn({ status: checked.head.status, content_length: checked.head.contentLength, excess_bytes: outcome.excessBytes }, 'response body longer than its Content-Length from the agent: cut at Content-Length');
        stream.destroy();
        return;
      }
      ex.cancel(BODY_CUT);
      this.log.warn({ status: checked.head.status, received_bytes: outcome.receivedBytes, content_length: outcome.expectedBytes }, 'response body shorter than its Content-Length from the agent: response cut');
      abortResponse(res);
    });
  }

  /**
   * What a cancelled attempt means for the request (the one place that reads a cause):
   * - 'local': the ingress ended it itself and answered already (a cut body, an internal error),
   *   or the stream was destroyed under it: nothing more;
   * - 'client': the browser left: the relay stream is reset (the hub and the agent cancel too);
   * - a stalled request body: 408 (or the response cut when its head already left);
   * - else (a relay stream error, a bad response head, the response timeout): before the
   *   response head left, sent once more elsewhere when mayRetry, else answered (fail); after it,
   *   the response is cut.
   */
  private cancelled(attempt: RelayAttempt, cause: CancelCause, instanceKey: string, hasBody: boolean): void {
    const { stream } = attempt;
    if (cause.source === 'local') return;
    if (cause.source === 'client') {
      if (stream.destroyed) return;
      stream.destroy();
      // An OPEN taken back before it left (a reset at once) cost nothing: not worth an info line.
      this.log[stream.openWithdrawn ? 'debug' : 'info']({ duration_ms: Date.now() - this.started }, 'client went away: cancelling');
      return;
    }
    if (isBodyStall(cause)) {
      this.bodyStalled(stream, cause.stall);
      return;
    }
    // The response timeout resets the stream with its own code; a stream error destroyed it already.
    if (!stream.destroyed) stream.destroy(cause.source === 'timeout' ? failureOf(cause) : undefined);
    const err = failureOf(cause);
    if (this.res.headersSent) {
      this.log.info({ code: cause.code, reason: cause.message }, 'response stream broke mid-body');
      abortResponse(this.res);
      return;
    }
    if (this.mayRetry(cause, hasBody)) {
      this.retry(err, instanceKey);
      return;
    }
    this.fail(err);
  }

  /** The request body never started or stalled (HOPGATE_BODY_START_TIMEOUT_MS / HOPGATE_BODY_IDLE_TIMEOUT_MS): 408, or the response cut. */
  private bodyStalled(stream: RelayClientStream, stall: BodyStall): void {
    const { req, res } = this;
    if (stream.destroyed || this.answered) return;
    this.answered = true;
    const status = res.headersSent ? res.statusCode : BODY_IDLE_STATUS;
    this.log.info({ status, [stall.logField]: stall.timeoutMs, duration_ms: Date.now() - this.started }, stall.logMessage);
    stream.destroy();
    if (res.headersSent) {
      abortResponse(res);
      return;
    }
    sendError(res, BODY_IDLE_STATUS, stall.reason, this.requestId, this.h1);
    stopRequestBody(req);
  }

  /** The edge answers the request itself (400, 404, 431): logged, the body not read. */
  private refuse(refusal: Refusal, closeConnection: boolean): void {
    this.answered = true;
    const level = refusal.status === 404 ? 'no route' : 'malformed request refused';
    this.log.info({ status: refusal.status, reason: refusal.reason }, level);
    sendError(this.res, refusal.status, refusal.publicText, this.requestId, this.h1 && closeConnection, refusal.code);
    if (closeConnection) stopRequestBody(this.req);
    this.req.resume();
  }

  /** The request failed on its way (offline, busy, timeout, bad answer): a status for the error's code. */
  private fail(err: unknown, closeConnection = false): void {
    if (this.answered) return;
    const code = errorCodeOf(err);
    if (code === ErrorCode.ClientOffline && this.clientId !== undefined) this.ctx.owners.invalidate(this.clientId);
    if (this.useFallback(err, closeConnection)) return;
    this.answered = true;
    const status = statusForCode(code);
    this.log.info({ code, status, reason: errorMessageOf(err), duration_ms: Date.now() - this.started, ...this.retryFields() }, 'request failed');
    sendError(this.res, status, publicReasonFor(code), this.requestId, this.h1 && closeConnection, code);
    if (closeConnection) stopRequestBody(this.req);
  }

  /** The route's fallback, once, for a failure it covers (route-fallback.ts): true when it took the request over. */
  private useFallback(err: unknown, closeConnection: boolean): boolean {
    if (this.admitted === undefined || this.onFallback) return false;
    const outcome = serveFallback(err, {
      req: this.req,
      res: this.res,
      requestId: this.requestId,
      route: this.admitted.route,
      fallbacks: this.ctx.routes.fallbacks,
      log: this.log,
      relayed: this.attempt !== undefined,
      hasBody: this.hasBody,
      closeConnection,
      relayTo: (to, label) => {
        this.onFallback = true;
        // Later failures of the lost client's stream are no longer this request's.
        this.attempt?.exchange.cancel(TAKEN_OVER);
        if (this.attempt && !this.attempt.stream.destroyed) this.attempt.stream.destroy();
        this.attempt = undefined;
        this.relayTo(to, label);
      },
    });
    if (outcome === 'page') this.answered = true;
    if (outcome !== 'none') this.fallbackKind = outcome === 'page' ? 'page' : 'client';
    return outcome !== 'none';
  }

  /**
   * The response is over (sent, cut, or the client left): one sample for the request metrics.
   * Bytes are the body bytes of the relay attempt in use at the end (a retried request's first
   * stream carried no body: only bodyless requests are retried).
   */
  recordMetrics(): void {
    try {
      const flow = this.attempt?.stream.flowStats();
      this.ctx.metrics?.observe({
        status: this.res.headersSent ? this.res.statusCode : undefined,
        route: this.admitted?.route.route ?? '',
        client: this.clientId ?? '',
        // The monotonic clock, sub-millisecond: a request answered within the millisecond is not a 0 s sample.
        durationSeconds: (performance.now() - this.startedAt) / 1000,
        requestBytes: flow?.sentBytes ?? 0,
        responseBytes: flow?.receivedBytes ?? 0,
        retried: this.firstFailure !== undefined,
        fallback: this.fallbackKind,
      });
    } catch (err) {
      // Runs from the response's 'close': a failure here must not escape as an uncaught exception.
      this.log.error({ err }, 'request metrics not recorded');
    }
  }

  /** A failure nothing above expected (a bug): this request alone ends with 502, logged with the stack. */
  internalError(err: unknown): void {
    try {
      this.log.error({ err, duration_ms: Date.now() - this.started }, 'request failed inside the ingress');
      this.attempt?.exchange.cancel(INTERNAL);
      if (this.attempt && !this.attempt.stream.destroyed) this.attempt.stream.destroy();
      if (this.answered) {
        abortResponse(this.res);
        return;
      }
      this.answered = true;
      sendError(this.res, 502, publicReasonFor(ErrorCode.Internal), this.requestId, this.h1, ErrorCode.Internal);
      stopRequestBody(this.req);
      this.req.resume();
    } catch {
      // The response is beyond reach; the connection's own close handling cleans up.
    }
  }
}
