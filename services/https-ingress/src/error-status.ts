import { ErrorCode, type ErrorCode as Code } from '@hopgate/errors';
import { abortResponse, isHttp2Response, type PublicResponse } from './public-http.js';

/** The one place where error codes become HTTP status codes (the edge). */
export function statusForCode(code: Code): number {
  switch (code) {
    case ErrorCode.NoRoute:
      return 404;
    case ErrorCode.Timeout:
      return 504;
    case ErrorCode.Busy:
    case ErrorCode.Unavailable:
      return 503;
    case ErrorCode.BadFrame:
    case ErrorCode.Protocol:
    case ErrorCode.ClientOffline:
    case ErrorCode.OriginUnreachable:
    case ErrorCode.UnknownService:
    case ErrorCode.StreamReset:
    case ErrorCode.SessionReplaced:
    case ErrorCode.Closed:
    default:
      return 502;
  }
}

/**
 * What the browser is told for an error code. Never an internal detail: no addresses of the
 * agent's network, no hub ids, no Redis or NATS error text, no client ids. The precise reason
 * goes to the log line with the request id, which the answer names (errorBody).
 */
export function publicReasonFor(code: Code): string {
  switch (code) {
    case ErrorCode.NoRoute:
      return 'no route for this host and path';
    case ErrorCode.ClientOffline:
      return 'the tunnel for this route is offline';
    case ErrorCode.Timeout:
      return 'the tunnel did not answer in time';
    case ErrorCode.Busy:
      return 'the tunnel for this route is busy; retry shortly';
    case ErrorCode.Unavailable:
      return 'the gateway is briefly unavailable; retry shortly';
    case ErrorCode.OriginUnreachable:
      return "the tunnel's local service is unreachable";
    case ErrorCode.UnknownService:
      return 'the tunnel does not serve this route';
    case ErrorCode.BadFrame:
    case ErrorCode.Protocol:
      return 'the tunnel sent an invalid response';
    default:
      return 'the tunnel could not complete the request';
  }
}

/** Seconds a client should wait before retrying a 503 (Retry-After). */
export const BUSY_RETRY_AFTER_S = 1;

/**
 * The plain-text body of every answer the edge makes itself: what went wrong in public
 * terms (with the stable error code when there is one) and the request id that finds the
 * precise reason in the logs of the ingress, the hub and the agent.
 */
export function errorBody(publicText: string, requestId: string | undefined, code?: Code): string {
  const tagged = code === undefined ? publicText : `${publicText} (${code})`;
  return requestId === undefined ? `hopgate: ${tagged}\n` : `hopgate: ${tagged}\nrequest id: ${requestId}\n`;
}

/**
 * A short plain-text error answer (see errorBody), unless the head already left (then the
 * response is cut). `closeConnection`: the request body will not be read, so an HTTP/1.1
 * connection cannot carry another request (ignored for HTTP/2, where see stopRequestBody).
 * Never throws: a response that cannot take the answer any more is cut instead.
 */
export function sendError(res: PublicResponse, status: number, publicText: string, requestId?: string, closeConnection = false, code?: Code): void {
  try {
    if (res.headersSent) {
      abortResponse(res);
      return;
    }
    const body = errorBody(publicText, requestId, code);
    const headers: Record<string, string | number> = {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    };
    if (requestId) headers['x-hopgate-request-id'] = requestId;
    if (status === 503) headers['retry-after'] = BUSY_RETRY_AFTER_S;
    if (closeConnection && !isHttp2Response(res)) headers['connection'] = 'close';
    res.writeHead(status, headers);
    res.end(body);
  } catch {
    // The response or its connection is already gone (an HTTP/2 stream reset, a closed socket).
    try {
      abortResponse(res);
    } catch {
      // Nothing is left to answer on.
    }
  }
}
