import type { Logger } from '@hopgate/log';
import { HopError, ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import type { RouteLoader } from '@hopgate/routes';
import type { OwnerCache } from '@hopgate/sessions';
import type { RelayClient } from '@hopgate/relay';
import { encodeTunnelOpen, stripHopByHop } from '@hopgate/http-tunnel';
import { awaitResponseHead } from './response-head.js';
import { buildRequestHead, headerListSize, normalizedHost, pathOnly, requestTarget } from './request-head.js';
import { sendError, statusForCode } from './error-status.js';
import { abortResponse, clientGone, isHttp2, pipeRequestBody, stopRequestBody, writeResponseHead, type PublicRequest, type PublicResponse } from './exchange.js';
import { watchBody } from './body-idle.js';

/** The answer to an upload that stalls or never starts before the response head: 408 Request Timeout (RFC 9110 §15.5.9). */
export const BODY_IDLE_STATUS = 408;

export interface ProxyContext {
  routes: RouteLoader;
  owners: OwnerCache;
  relay: RelayClient;
  responseTimeoutMs: number;
  /** Largest request head accepted, in bytes (HOPGATE_MAX_HEADER_BYTES). */
  maxHeaderBytes: number;
  /** A request body with no progress for this long is cancelled (HOPGATE_BODY_IDLE_TIMEOUT_MS). */
  bodyIdleTimeoutMs: number;
  /** An announced request body with no byte for this long is cancelled (HOPGATE_BODY_START_TIMEOUT_MS). */
  bodyStartTimeoutMs: number;
  nextRequestId(): string;
  logger: Logger;
}

/**
 * One public request (HTTP/1.1 or HTTP/2): route lookup -> owner hub -> relay stream over
 * NATS -> response. Nothing but cached lookups stands between the request and the relay.
 * `expectContinue`: the browser sent `Expect: 100-continue` and waits before sending its
 * body; it gets 100 Continue only once the route and the client's session are known
 * (RFC 9110 §10.1.1), else the final error status at once.
 */
export function proxyRequest(req: PublicRequest, res: PublicResponse, proto: 'http' | 'https', ctx: ProxyContext, expectContinue = false): void {
  const started = Date.now();
  const requestId = ctx.nextRequestId();
  const h1 = !isHttp2(req);
  const target = requestTarget(req);
  if ('error' in target) {
    ctx.logger.info({ request_id: requestId, status: 400, reason: target.error }, 'malformed request refused');
    sendError(res, 400, `hopgate: ${target.error}`, requestId, h1);
    stopRequestBody(req);
    req.resume();
    return;
  }
  // HTTP/2 enforces SETTINGS_MAX_HEADER_LIST_SIZE only once the browser acknowledged it: check here too.
  if (!h1 && headerListSize(req.rawHeaders) > ctx.maxHeaderBytes) {
    ctx.logger.info({ request_id: requestId, status: 431, max_header_bytes: ctx.maxHeaderBytes }, 'malformed request refused');
    sendError(res, 431, 'hopgate: request header fields too large', requestId);
    stopRequestBody(req);
    req.resume();
    return;
  }
  const host = normalizedHost(target.authority);
  const path = pathOnly(target.path);
  const match = ctx.routes.current.match(host, path);
  // Without a 100, the browser may never send the body it announced: the connection can't be reused.
  const unreadBody = expectContinue;
  if (!match) {
    ctx.logger.info({ request_id: requestId, host, path, status: 404 }, 'no route');
    sendError(res, 404, `hopgate: no route for ${host}${path}`, requestId, h1 && unreadBody);
    if (unreadBody) stopRequestBody(req);
    req.resume();
    return;
  }
  const log = ctx.logger.child({ request_id: requestId, client_id: match.clientId, route: match.route });
  let answered = false;
  const fail = (err: unknown, closeConnection = false): void => {
    if (answered) return;
    answered = true;
    const code = errorCodeOf(err);
    const status = statusForCode(code);
    log.info({ code, status, reason: errorMessageOf(err), duration_ms: Date.now() - started }, 'request failed');
    if (code === ErrorCode.ClientOffline) ctx.owners.invalidate(match.clientId);
    sendError(res, status, `hopgate: ${errorMessageOf(err)}`, requestId, h1 && closeConnection);
    if (closeConnection) stopRequestBody(req);
  };
  void ctx.owners.lookup(match.clientId).then(
    (owner) => {
      if (clientGone(req)) return log.debug({ duration_ms: Date.now() - started }, 'client went away before the request was relayed');
      if (!owner) {
        fail(new HopError(ErrorCode.ClientOffline, `client "${match.clientId}" is offline (no agent session)`), unreadBody);
        req.resume();
        return;
      }
      if (!ctx.relay.connected) {
        fail(new HopError(ErrorCode.Busy, 'the message bus (NATS) is unreachable from this ingress; retry shortly'), unreadBody);
        req.resume();
        return;
      }
      const head = buildRequestHead(req, target, requestId, match.service, proto);
      const stream = ctx.relay.open(owner.hubId, encodeTunnelOpen({ clientId: match.clientId, route: match.route, request: head }), requestId);
      let finished = false;
      const wait = awaitResponseHead(stream, match.clientId, ctx.responseTimeoutMs, (response) => {
        const headers = stripHopByHop(response.headers);
        headers.push(['x-hopgate-request-id', requestId]);
        try {
          writeResponseHead(res, response.status, headers);
        } catch (err) {
          stream.destroy();
          fail(new HopError(ErrorCode.Protocol, `invalid response head from origin: ${errorMessageOf(err)}`));
          return;
        }
        stream.pipe(res);
      }, fail, head.has_body);
      stream.once('end', () => {
        finished = true;
        // The response is complete: a request body still on its way is no longer wanted.
        if (head.has_body && !req.readableEnded) stream.destroy();
        log.info({ status: res.statusCode, hub_id: owner.hubId, duration_ms: Date.now() - started }, 'request served');
      });
      stream.on('error', (err: unknown) => {
        if (finished) return;
        if (!wait.responded() || !res.headersSent) {
          fail(err);
        } else {
          log.info({ code: errorCodeOf(err), reason: errorMessageOf(err) }, 'response stream broke mid-body');
          abortResponse(res);
        }
      });
      // The browser left (HTTP/1.1 close, HTTP/2 RST_STREAM) or the request broke: cancel on every hop.
      // (`finished`, not res.writableFinished: an HTTP/2 response reset by the browser reports finished.)
      res.once('close', () => {
        if (!finished && !stream.destroyed) {
          stream.destroy();
          // An OPEN taken back before it left (a reset at once) cost nothing: not worth an info line.
          log[stream.openWithdrawn ? 'debug' : 'info']({ duration_ms: Date.now() - started }, 'client went away: cancelling');
        }
      });
      if (!head.has_body) {
        req.resume();
        stream.end();
        return;
      }
      if (expectContinue) res.writeContinue();
      // HOPGATE_RESPONSE_TIMEOUT_MS counts from the end of the upload.
      req.once('end', () => wait.startClock());
      pipeRequestBody(req, stream);
      const stopWatching = watchBody(req, { startTimeoutMs: ctx.bodyStartTimeoutMs, idleTimeoutMs: ctx.bodyIdleTimeoutMs }, (stall) => {
        if (stream.destroyed || answered) return;
        answered = true;
        const status = res.headersSent ? res.statusCode : BODY_IDLE_STATUS;
        log.info({ status, [stall.logField]: stall.timeoutMs, duration_ms: Date.now() - started }, stall.logMessage);
        stream.destroy();
        if (res.headersSent) {
          abortResponse(res);
          return;
        }
        sendError(res, BODY_IDLE_STATUS, `hopgate: ${stall.reason}`, requestId, h1);
        stopRequestBody(req);
      });
      stream.once('close', stopWatching);
    },
    (err: unknown) => {
      req.resume();
      fail(new HopError(ErrorCode.ClientOffline, `cannot look up the session of client "${match.clientId}": ${errorMessageOf(err)}`), unreadBody);
    },
  );
}
