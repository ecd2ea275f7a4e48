import { ID_PATTERN } from '@hopgate/config';

/** Largest body of a static fallback page, in bytes: each ingress keeps every page in use in memory. */
export const MAX_FALLBACK_PAGE_BODY_BYTES = 64 * 1024;
/** Longest accepted `content_type` of a page, in characters. */
export const MAX_FALLBACK_CONTENT_TYPE_LENGTH_CHARS = 256;
/** `Retry-After` of a 503 page without a `retry_after` field, in seconds. */
export const DEFAULT_FALLBACK_RETRY_AFTER_S = 60;
/** Largest accepted `retry_after`, in seconds (one day). */
export const MAX_FALLBACK_RETRY_AFTER_S = 86_400;

/** A static page served in place of an offline route. Frozen, shared by every request that gets it. */
export interface FallbackPage {
  /** The page's name: `hopgate:page:<name>`. */
  readonly name: string;
  /** 200-299 (not 204, 205, 206) or 500-599. */
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
  /** Seconds for `Retry-After`, sent with status 503 only. */
  readonly retryAfterS: number;
}

/** The fields of a page hash as read (body as bytes; absent fields undefined). */
export interface RawFallbackPage {
  readonly status?: string;
  readonly contentType?: string;
  readonly retryAfter?: string;
  readonly body?: Buffer;
}

export type FallbackPageResult = { ok: true; page: FallbackPage } | { ok: false; reason: string };

/** Why `name` cannot name a page, or undefined (the identifier pattern of client ids). */
export function pageNameProblem(name: string): string | undefined {
  return ID_PATTERN.test(name) ? undefined : `page name ${JSON.stringify(name)} must match ${ID_PATTERN}`;
}

/** Why `status` cannot be a page's status, or undefined. */
export function pageStatusProblem(status: string): string | undefined {
  if (!/^[0-9]{3}$/.test(status)) return `status ${JSON.stringify(status)} must be a three-digit HTTP status`;
  const code = Number(status);
  const success = code >= 200 && code <= 299;
  const serverError = code >= 500 && code <= 599;
  if (!success && !serverError) return `status ${code} must be 2xx or 5xx`;
  // RFC 9110 §15.3.5/§15.3.6: 204 and 205 carry no content; §15.3.7: 206 needs Content-Range.
  if (code === 204 || code === 205 || code === 206) return `status ${code} cannot carry a page body`;
  return undefined;
}

/** Why `value` cannot be a page's content type, or undefined: visible ASCII and spaces, no control characters. */
export function pageContentTypeProblem(value: string): string | undefined {
  if (value.length === 0) return 'content_type is empty';
  if (value.length > MAX_FALLBACK_CONTENT_TYPE_LENGTH_CHARS) return `content_type longer than ${MAX_FALLBACK_CONTENT_TYPE_LENGTH_CHARS} characters`;
  // RFC 9110 §5.5: a field value is visible characters with inner spaces; no CR, LF or NUL.
  if (!/^[!-~](?:[ -~]*[!-~])?$/.test(value)) return 'content_type must be visible ASCII (no control characters, no leading or trailing space)';
  return undefined;
}

/** Validates a page hash (`status`, `content_type`, `body`, optional `retry_after`). */
export function parseFallbackPage(name: string, raw: RawFallbackPage): FallbackPageResult {
  const nameProblem = pageNameProblem(name);
  if (nameProblem !== undefined) return { ok: false, reason: nameProblem };
  if (raw.status === undefined) return { ok: false, reason: 'page has no "status" field' };
  const statusProblem = pageStatusProblem(raw.status);
  if (statusProblem !== undefined) return { ok: false, reason: statusProblem };
  if (raw.contentType === undefined) return { ok: false, reason: 'page has no "content_type" field' };
  const typeProblem = pageContentTypeProblem(raw.contentType);
  if (typeProblem !== undefined) return { ok: false, reason: typeProblem };
  if (raw.body === undefined) return { ok: false, reason: 'page has no "body" field' };
  if (raw.body.length > MAX_FALLBACK_PAGE_BODY_BYTES) return { ok: false, reason: `body of ${raw.body.length} bytes is over the ${MAX_FALLBACK_PAGE_BODY_BYTES}-byte limit` };
  let retryAfterS = DEFAULT_FALLBACK_RETRY_AFTER_S;
  if (raw.retryAfter !== undefined) {
    if (!/^[0-9]{1,6}$/.test(raw.retryAfter) || Number(raw.retryAfter) > MAX_FALLBACK_RETRY_AFTER_S) {
      return { ok: false, reason: `retry_after ${JSON.stringify(raw.retryAfter)} must be whole seconds from 0 to ${MAX_FALLBACK_RETRY_AFTER_S}` };
    }
    retryAfterS = Number(raw.retryAfter);
  }
  return {
    ok: true,
    page: Object.freeze({ name, status: Number(raw.status), contentType: raw.contentType, body: raw.body, retryAfterS }),
  };
}
