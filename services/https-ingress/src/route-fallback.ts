import { ErrorCode, errorCodeOf, errorMessageOf, type ErrorCode as Code } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import type { FallbackPage, FallbackTable, RouteMatch, RouteTarget } from '@hopgate/routes';
import { abortResponse, isHttp2Response, stopRequestBody, type PublicRequest, type PublicResponse } from './public-http.js';
import { REQUEST_ID_HEADER } from './response-framing.js';

/**
 * Failures a route's fallback covers: its client has no live session (or lost it while the
 * request was on its way), which is also how the retry path reports that every instance failed.
 * Timeouts, busy agents and bad answers are not covered: the client is there.
 */
export const FALLBACK_ERROR_CODES: ReadonlySet<Code> = new Set([ErrorCode.ClientOffline]);

/** Methods a `<client>/<service>` fallback may receive again after the request reached an agent (RFC 9110 §9.2.2). */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** One failed request, as the proxy path hands it to `serveFallback`. */
export interface FallbackRequest {
  readonly req: PublicRequest;
  readonly res: PublicResponse;
  readonly requestId: string;
  /** The route the request matched (not a fallback's: fallbacks do not chain). */
  readonly route: RouteMatch;
  readonly fallbacks: FallbackTable;
  readonly log: Logger;
  /**
   * A relay stream was opened for the request, so it may have reached an agent. A
   * `<client>/<service>` fallback is then used only for an idempotent method without a body
   * (what may run twice, and what is still there to send); a page is always safe.
   */
  readonly relayed: boolean;
  /** The request announced a body. */
  readonly hasBody: boolean;
  /** The request body will not be read: HTTP/1.1 closes after the page, HTTP/2 stops the upload. */
  readonly closeConnection: boolean;
  /** Relays the request to a `<client>/<service>` fallback, on the proxy path's own relay. */
  relayTo(target: RouteTarget, label: string): void;
}

/**
 * Whether the fallback took the request over: `page` (answered, nothing left to do), `relayed`
 * (handed to `relayTo`, which answers), or `none` (the caller answers the failure as usual).
 */
export type FallbackOutcome = 'none' | 'page' | 'relayed';

/**
 * The proxy path's one call when a request failed before any response byte left: serves the
 * route's fallback when the failure is one it covers (FALLBACK_ERROR_CODES) and the route has one.
 */
export function serveFallback(failure: unknown, request: FallbackRequest): FallbackOutcome {
  const code = errorCodeOf(failure);
  if (!FALLBACK_ERROR_CODES.has(code) || request.res.headersSent) return 'none';
  const fallback = request.fallbacks.forRoute(request.route);
  if (fallback === undefined) return 'none';
  const fields = { fallback: fallback.label, code, reason: errorMessageOf(failure) };
  if (fallback.kind === 'page') {
    request.log.info({ ...fields, status: fallback.page.status }, 'client offline: answered with the fallback page');
    sendPage(request, fallback.page);
    return 'page';
  }
  const method = request.req.method ?? 'GET';
  if (request.relayed && (request.hasBody || !IDEMPOTENT_METHODS.has(method))) {
    request.log.info({ ...fields, method }, 'client lost after the request was relayed: not sent again to the fallback (not idempotent, or its body is gone)');
    return 'none';
  }
  request.log.info(fields, 'client offline: relaying to the fallback');
  request.relayTo({ clientId: fallback.clientId, service: fallback.service }, fallback.label);
  return 'relayed';
}

/** The page as the answer: its status, type and body, the request id, no caching; HEAD bodyless. */
function sendPage(request: FallbackRequest, page: FallbackPage): void {
  const { req, res } = request;
  try {
    const headers: Record<string, string | number> = {
      'content-type': page.contentType,
      'content-length': page.body.length,
      'cache-control': 'no-store',
      [REQUEST_ID_HEADER]: request.requestId,
    };
    // RFC 9110 §10.2.3: how long the maintenance is expected to last.
    if (page.status === 503) headers['retry-after'] = page.retryAfterS;
    if (request.closeConnection && !isHttp2Response(res)) headers['connection'] = 'close';
    res.writeHead(page.status, headers);
    // RFC 9110 §9.3.2: the answer to HEAD is the GET answer's head alone.
    if (req.method === 'HEAD') res.end();
    else res.end(page.body);
    if (request.closeConnection) stopRequestBody(req);
  } catch {
    // The response or its connection is already gone (an HTTP/2 stream reset, a closed socket).
    abortResponse(res);
  }
}
