import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';

/** Longest `last_error` stored in Redis, in characters (an ACME problem detail can be long). */
export const MAX_LAST_ERROR_CHARS = 300;

/** Node/OpenSSL codes of a TLS certificate the client does not trust. */
const UNTRUSTED_TLS_CODES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Codes of a server that cannot be reached at all. */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EPIPE',
]);

/**
 * A transport failure talking to the ACME server (no HTTP response), already described in
 * one line naming the server. Deliberately has no `config` property: acme-client's retry
 * interceptor then passes it through untouched (with one, it ends in a misleading
 * "Cannot read properties of undefined (reading 'config')" after its retries).
 */
export function acmeTransportError(directoryUrl: string, err: unknown): HopError {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
  let what: string;
  if (code !== undefined && UNTRUSTED_TLS_CODES.has(code)) {
    what = `TLS certificate not trusted (${code}): set HOPGATE_ACME_CA_FILE to the CA that signed it`;
  } else if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    what = `unreachable: ${code}`;
  } else {
    what = `request failed: ${code ?? errorMessageOf(err)}`;
  }
  return new HopError(ErrorCode.Acme, `ACME server ${directoryUrl} ${what}`, { cause: err });
}

/** The one-line `last_error` for a failed order: the ACME problem detail or the transport failure, shortened. */
export function lastErrorOf(err: unknown): string {
  const text = errorMessageOf(err).replace(/\s+/g, ' ').trim() || 'unknown error';
  return text.length > MAX_LAST_ERROR_CHARS ? `${text.slice(0, MAX_LAST_ERROR_CHARS - 1)}…` : text;
}
