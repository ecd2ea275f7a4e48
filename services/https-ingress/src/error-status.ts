import { ErrorCode, type ErrorCode as Code } from '@hopgate/errors';
import { abortResponse, isHttp2Response, type PublicResponse } from './exchange.js';

/** The one place where error codes become HTTP status codes (the edge). */
export function statusForCode(code: Code): number {
  switch (code) {
    case ErrorCode.NoRoute:
      return 404;
    case ErrorCode.Timeout:
      return 504;
    case ErrorCode.Busy:
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

/** Seconds a client should wait before retrying a 503 (Retry-After). */
export const BUSY_RETRY_AFTER_S = 1;

/**
 * A short plain-text error answer, unless the head already left (then the response is cut).
 * `closeConnection`: the request body will not be read, so an HTTP/1.1 connection cannot
 * carry another request (ignored for HTTP/2, where see stopRequestBody).
 */
export function sendError(res: PublicResponse, status: number, text: string, requestId?: string, closeConnection = false): void {
  if (res.headersSent) {
    abortResponse(res);
    return;
  }
  const body = `${text}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  if (requestId) headers['x-hopgate-request-id'] = requestId;
  if (status === 503) headers['retry-after'] = BUSY_RETRY_AFTER_S;
  if (closeConnection && !isHttp2Response(res)) headers['connection'] = 'close';
  res.writeHead(status, headers);
  res.end(body);
}
