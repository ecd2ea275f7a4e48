import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseRequestAuthority } from '@hopgate/routes';
import { errorBody } from './error-status.js';

/**
 * Port 80 in redirect mode: everything goes to the same URL on HTTPS (308 keeps the method).
 * The Location is built from the parsed host name (RFC 9110 §7.2), never from the raw Host: a
 * Host that is not `name[:port]` gets 400.
 */
export function redirectToHttps(req: IncomingMessage, res: ServerResponse, httpsPort: number): void {
  req.resume();
  const parsed = parseRequestAuthority(req.headers.host ?? '');
  const url = req.url ?? '/';
  if (!parsed.ok || !url.startsWith('/')) {
    const body = errorBody(parsed.ok ? 'malformed request target' : 'missing or invalid Host', undefined);
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
    return;
  }
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  const location = `https://${parsed.authority.name}${port}${url}`;
  res.writeHead(308, { location, 'content-type': 'text/plain; charset=utf-8', 'content-length': 0 });
  res.end();
}
