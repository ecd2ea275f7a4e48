import { MAX_PATH_PREFIX_LENGTH_CHARS } from './limits.js';
import { normalizeRequestPath } from './request-path.js';

const CODE_SLASH = 47;
const CODE_QUESTION = 63;
const CODE_HASH = 35;

/**
 * Why `field` is not a valid path prefix, or undefined when it is one: it starts with `/`,
 * has no white space, control character, `?` or `#` (RFC 3986 section 3.3: a path ends at
 * `?` or `#`), is at most MAX_PATH_PREFIX_LENGTH_CHARS long, and is in the normal form requests
 * are matched in (no dot-segment, no encoded unreserved character, upper-case %XX: see
 * normalizeRequestPath).
 */
export function pathPrefixProblem(field: string): string | undefined {
  if (field.length === 0) return 'empty path prefix (use "/" for everything)';
  if (field.charCodeAt(0) !== CODE_SLASH) return 'path prefix must start with "/"';
  if (field.length > MAX_PATH_PREFIX_LENGTH_CHARS) return `path prefix longer than ${MAX_PATH_PREFIX_LENGTH_CHARS} characters`;
  if (/[\s\p{Cc}]/u.test(field)) return 'white space or control character in path prefix';
  if (field.includes('?')) return 'path prefix must not contain "?" (routes match paths, not queries)';
  if (field.includes('#')) return 'path prefix must not contain "#"';
  // Requests are matched in normal form (request-path.ts): a prefix in another form could never match.
  const normal = normalizeRequestPath(field);
  if (!normal.ok) return normal.reason.replace('in the path', 'in the path prefix');
  if (normal.path !== field) return `path prefix is not in normal form: write it as ${JSON.stringify(normal.path)} (unreserved characters unencoded, other %XX in upper case)`;
  return undefined;
}

/**
 * Segment-boundary prefix match. `prefix` matches `path` when `path` starts with it and
 * either the prefix ends with `/`, or the path ends right there, or the next character is
 * `/`, `?` or `#`. So `/api` matches `/api`, `/api/`, `/api/x` and `/api?q`, not `/apix`;
 * `/` matches every path. Case-sensitive; `path` is expected in normal form (normalizeRequestPath).
 */
export function pathPrefixMatches(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length) return true;
  if (prefix.charCodeAt(prefix.length - 1) === CODE_SLASH) return true;
  const next = path.charCodeAt(prefix.length);
  return next === CODE_SLASH || next === CODE_QUESTION || next === CODE_HASH;
}
