import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@hopgate/log';
import { HopError, ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import type { RouteLoader } from '@hopgate/routes';
import type { OwnerCache } from '@hopgate/sessions';
import type { RelayClient } from '@hopgate/relay';
import { encodeTunnelOpen } from '@hopgate/http-tunnel';
import { awaitResponseHead } from './response-head.js';
import { flattenHeaders, stripHopByHop } from '@hopgate/http-tunnel';
import { buildRequestHead, normalizedHost, pathOnly } from './request-head.js';
import { sendError, statusForCode } from './error-status.js';

export interface ProxyContext {
  routes: RouteLoader;
  owners: OwnerCache;
  relay: RelayClient;
  responseTimeoutMs: number;
  nextRequestId(): string;
  logger: Logger;
}

/**
 * One public request: route lookup -> owner hub -> relay stream over NATS -> response.
 * Nothing but cached lookups stands between the request and the relay.
 */
export function proxyRequest(req: IncomingMessage, res: ServerResponse, proto: 'http' | 'https', ctx: ProxyContext): void {
  const started = Date.now();
  const requestId = ctx.nextRequestId();
  const host = normalizedHost(req.headers.host);
  const url = req.url ?? '/';
  const match = ctx.routes.current.match(host, pathOnly(url));
  if (!match) {
    ctx.logger.info({ request_id: requestId, host, path: pathOnly(url), status: 404 }, 'no route');
    sendError(res, 404, `hopgate: no route for ${host}${pathOnly(url)}`, requestId);
    req.resume();
    return;
  }
  const log = ctx.logger.child({ request_id: requestId, client_id: match.clientId, route: match.route });
  const fail = (err: unknown): void => {
    const code = errorCodeOf(err);
    const status = statusForCode(code);
    log.info({ code, status, reason: errorMessageOf(err), duration_ms: Date.now() - started }, 'request failed');
    if (code === ErrorCode.ClientOffline) ctx.owners.invalidate(match.clientId);
    sendError(res, status, `hopgate: ${errorMessageOf(err)}`, requestId);
  };
  void ctx.owners.lookup(match.clientId).then(
    (owner) => {
      if (!owner) {
        fail(new HopError(ErrorCode.ClientOffline, `client "${match.clientId}" is offline (no agent session)`));
        req.resume();
        return;
      }
      if (!ctx.relay.connected) {
        fail(new HopError(ErrorCode.Busy, 'the message bus (NATS) is unreachable from this ingress; retry shortly'));
        req.resume();
        return;
      }
      const head = buildRequestHead(req, requestId, match.service, proto);
      const stream = ctx.relay.open(owner.hubId, encodeTunnelOpen({ clientId: match.clientId, route: match.route, request: head }), requestId);
      let finished = false;
      const responded = awaitResponseHead(stream, match.clientId, ctx.responseTimeoutMs, (response) => {
        const flat = flattenHeaders(stripHopByHop(response.headers));
        flat.push('x-hopgate-request-id', requestId);
        try {
          res.writeHead(response.status, flat);
        } catch (err) {
          stream.destroy();
          fail(new HopError(ErrorCode.Protocol, `invalid response head from origin: ${errorMessageOf(err)}`));
          return;
        }
        stream.pipe(res);
      }, fail);
      stream.once('end', () => {
        finished = true;
        // The response is complete: a request body still on its way is no longer wanted.
        if (head.has_body && !req.readableEnded) stream.destroy();
        log.info({ status: res.statusCode, hub_id: owner.hubId, duration_ms: Date.now() - started }, 'request served');
      });
      stream.on('error', (err: unknown) => {
        if (finished) return;
        if (!responded() || !res.headersSent) {
          fail(err);
        } else {
          log.info({ code: errorCodeOf(err), reason: errorMessageOf(err) }, 'response stream broke mid-body');
          res.destroy();
        }
      });
      // The browser left (or the request broke): cancel on every hop.
      res.once('close', () => {
        if (!res.writableFinished && !stream.destroyed) {
          log.info({ duration_ms: Date.now() - started }, 'client went away: cancelling');
          stream.destroy();
        }
      });
      if (head.has_body) req.pipe(stream);
      else {
        req.resume();
        stream.end();
      }
    },
    (err: unknown) => {
      req.resume();
      fail(new HopError(ErrorCode.ClientOffline, `cannot look up the session of client "${match.clientId}": ${errorMessageOf(err)}`));
    },
  );
}
