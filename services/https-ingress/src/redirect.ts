import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizedHost } from './request-head.js';

/** Port 80 in redirect mode: everything goes to the same URL on HTTPS (308 keeps the method). */
export function redirectToHttps(req: IncomingMessage, res: ServerResponse, httpsPort: number): void {
  const host = normalizedHost(req.headers.host);
  if (!host) {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('hopgate: missing Host header\n');
    return;
  }
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  const location = `https://${host}${port}${req.url ?? '/'}`;
  res.writeHead(308, { location, 'content-type': 'text/plain; charset=utf-8', 'content-length': 0 });
  res.end();
  req.resume();
}
