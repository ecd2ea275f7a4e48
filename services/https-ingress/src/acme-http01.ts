import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChallengeStore } from '@hopgate/certs';
import type { Logger } from '@hopgate/log';

/** RFC 8555 §8.3: the validation server fetches http://<domain>/.well-known/acme-challenge/<token>. */
export const ACME_CHALLENGE_PATH_PREFIX = '/.well-known/acme-challenge/';
/** RFC 8555 §8.1: a token is base64url; anything else cannot be one of ours. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,256}$/;

/** True when the request is an ACME HTTP-01 probe, which port 80 answers itself in every mode. */
export function isAcmeHttp01(req: IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && (req.url ?? '').startsWith(ACME_CHALLENGE_PATH_PREFIX);
}

/**
 * Answers an HTTP-01 probe from Redis, so whichever replica the ACME server reaches answers it:
 * 200 with the key authorization (RFC 8555 §8.3) or 404 when no order waits on this token.
 */
export async function answerAcmeHttp01(req: IncomingMessage, res: ServerResponse, challenges: ChallengeStore, logger: Logger): Promise<void> {
  req.resume();
  const token = (req.url ?? '').slice(ACME_CHALLENGE_PATH_PREFIX.length).split('?')[0] ?? '';
  let keyAuthorization: string | undefined;
  if (TOKEN_PATTERN.test(token)) {
    try {
      keyAuthorization = await challenges.getHttp01(token);
    } catch (err) {
      logger.warn({ err: (err as Error).message, token }, 'acme http-01: challenge lookup failed');
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' });
      res.end('hopgate: challenge store unavailable\n');
      return;
    }
  }
  if (keyAuthorization === undefined) {
    logger.info({ token, host: req.headers.host }, 'acme http-01: no such challenge');
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('hopgate: no such ACME challenge\n');
    return;
  }
  logger.info({ token, host: req.headers.host }, 'acme http-01: challenge answered');
  // RFC 8555 §8.3: the body is the key authorization; application/octet-stream is what Let's Encrypt's boulder sends too.
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(keyAuthorization) });
  res.end(req.method === 'HEAD' ? undefined : keyAuthorization);
}
