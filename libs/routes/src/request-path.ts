/**
 * The path of a request target in the one form routes are matched on (RFC 3986 §6.2.2):
 * percent-encoded unreserved characters decoded (§2.3, `%2e` -> `.`, `%7E` -> `~`), the hex
 * digits of every other percent-encoding in upper case (§6.2.2.1). Two readings of the same
 * path can then never fall on different sides of a route boundary.
 *
 * Refused, so that the ingress answers 400:
 * - a malformed percent-encoding (`%`, `%4`, `%zz`; RFC 3986 §2.1);
 * - a dot-segment (`.` or `..`, also as `%2e`; RFC 3986 §3.3): browsers resolve them before
 *   sending (RFC 3986 §5.2.4), so only a crafted request carries one, and an origin that
 *   removed it itself could serve a path outside the route that matched.
 *
 * Kept as they are: `%2F` (an encoded slash is data, not a separator, RFC 3986 §2.2) and `\`
 * (not a separator in a URI; an origin that treats it as one sees it inside the segment the
 * route matched).
 */
export type RequestPathResult = { ok: true; path: string } | { ok: false; reason: string };

const CODE_PERCENT = 37;
const CODE_SLASH = 47;
const CODE_DOT = 46;

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

const HEX_DIGITS = '0123456789ABCDEF';

/**
 * Normalises `path` (the request target's path, without `?query`), or says why it is refused.
 * Allocation-free for a path with no `%` and no dot-segment (the common case).
 */
export function normalizeRequestPath(path: string): RequestPathResult {
  let out: string | undefined;
  let copiedTo = 0;
  if (path.indexOf('%') >= 0) {
    for (let i = 0; i < path.length; i++) {
      if (path.charCodeAt(i) !== CODE_PERCENT) continue;
      const high = i + 1 < path.length ? hexValue(path.charCodeAt(i + 1)) : -1;
      const low = i + 2 < path.length ? hexValue(path.charCodeAt(i + 2)) : -1;
      if (high < 0 || low < 0) return { ok: false, reason: 'malformed percent-encoding in the path' };
      const byte = high * 16 + low;
      const replacement = isUnreserved(byte) ? String.fromCharCode(byte) : `%${HEX_DIGITS[high]}${HEX_DIGITS[low]}`;
      if (replacement !== path.slice(i, i + 3)) {
        out = (out ?? '') + path.slice(copiedTo, i) + replacement;
        copiedTo = i + 3;
      }
      i += 2;
    }
  }
  const normal = out === undefined ? path : out + path.slice(copiedTo);
  if (hasDotSegment(normal)) return { ok: false, reason: 'dot-segment ("." or "..") in the path' };
  return { ok: true, path: normal };
}

/** Whether a segment of `path` (between slashes) is `.` or `..` (RFC 3986 §3.3). */
export function hasDotSegment(path: string): boolean {
  let from = 0;
  for (;;) {
    const dot = path.indexOf('.', from);
    if (dot < 0) return false;
    const startsSegment = dot === 0 || path.charCodeAt(dot - 1) === CODE_SLASH;
    if (startsSegment) {
      let end = dot + 1;
      if (end < path.length && path.charCodeAt(end) === CODE_DOT) end += 1;
      if (end === path.length || path.charCodeAt(end) === CODE_SLASH) return true;
    }
    from = dot + 1;
  }
}
