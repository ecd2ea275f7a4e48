import type { ServerResponse } from 'node:http';
import { ErrorCode, type ErrorCode as Code } from '@hopgate/errors';

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

/** A short plain-text error answer, unless the head already left (then the socket is cut). */
export function sendError(res: ServerResponse, status: number, text: string, requestId?: string): void {
  if (res.headersSent) {
    res.destroy();
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
  res.writeHead(status, headers);
  res.end(body);
}
