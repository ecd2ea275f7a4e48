import { HopError, ErrorCode } from '@hopgate/errors';

/**
 * Shortest HOPGATE_DTLS_COOKIE_SECRET entry, in bytes of key: 256 bits for HMAC-SHA256
 * (64 hex digits, or 44 base64 characters).
 */
export const MIN_DTLS_COOKIE_SECRET_BYTES = 32;

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * HOPGATE_DTLS_COOKIE_SECRET: a comma-separated list of secrets, each hex (read as hex when it
 * is only hex digits) or base64 (standard or URL-safe), each at least
 * MIN_DTLS_COOKIE_SECRET_BYTES once decoded. The first signs cookies, all verify them (RFC 6347
 * §4.2.1), so a new secret is rolled out first in second place, then first, then the old one
 * is dropped. Throws HopError(BadConfig) naming the entry by position, never its value.
 */
export function parseCookieSecrets(raw: string, variable: string): Buffer[] {
  const entries = raw.split(',').map((entry) => entry.trim());
  const secrets: Buffer[] = [];
  entries.forEach((entry, index) => {
    const where = `${variable} entry ${index + 1} of ${entries.length}`;
    let secret: Buffer;
    if (HEX.test(entry)) secret = Buffer.from(entry, 'hex');
    else if (BASE64.test(entry)) secret = Buffer.from(entry, 'base64');
    else throw new HopError(ErrorCode.BadConfig, `${where} is neither hex nor base64`);
    if (secret.length < MIN_DTLS_COOKIE_SECRET_BYTES) {
      throw new HopError(
        ErrorCode.BadConfig,
        `${where} has ${secret.length} bytes; at least ${MIN_DTLS_COOKIE_SECRET_BYTES} are needed (e.g. \`openssl rand -hex 32\`)`,
      );
    }
    if (secret.every((byte) => byte === secret[0])) {
      throw new HopError(ErrorCode.BadConfig, `${where} repeats one byte: use a random secret (e.g. \`openssl rand -hex 32\`)`);
    }
    secrets.push(secret);
  });
  return secrets;
}
