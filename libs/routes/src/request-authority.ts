import { isIPv6 } from 'node:net';
import { MAX_HOST_LENGTH_CHARS, MAX_LABEL_LENGTH_CHARS } from './limits.js';

/** A request's authority (Host, `:authority` or an absolute-form target), parsed and rebuilt. */
export interface RequestAuthority {
  /** The host name folded for route lookup: lower case, no trailing dot; an IPv6 literal keeps its brackets. */
  readonly name: string;
  /** The port, when one was named. */
  readonly port: number | undefined;
  /** `name[:port]`, rebuilt from the parsed parts: what the origin gets as Host and X-Forwarded-Host. */
  readonly host: string;
}

export type RequestAuthorityResult = { ok: true; authority: RequestAuthority } | { ok: false; reason: string };

/** Largest TCP port (RFC 9293 §3.1: 16 bits). */
const MAX_PORT = 65_535;
/** Most digits of a port. */
const MAX_PORT_DIGITS = 5;

const CODE_DOT = 46;
const CODE_COLON = 58;

/** Host name characters accepted at the edge: a-z, A-Z, 0-9, "-", "_" and "." (a subset of RFC 3986 §3.2.2 reg-name). */
function isNameChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === 0x5f ||
    code === CODE_DOT
  );
}

/**
 * Parses `host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2-3.2.3). Accepted: a host name of
 * letters, digits, "-", "_" and "." (labels of 1-63, at most 253 characters, one trailing dot
 * allowed), an IPv4 address (same characters), or an IPv6 literal in brackets; then optionally
 * ":" and a port of 1-5 digits, 1-65535. Everything else (user info, percent-encoding, white
 * space, an empty port, IPvFuture, zone ids, a second colon) is refused: the ingress answers 400.
 */
export function parseRequestAuthority(raw: string): RequestAuthorityResult {
  if (raw.length === 0) return { ok: false, reason: 'empty host' };
  let hostEnd: number;
  let name: string;
  if (raw.charCodeAt(0) === 0x5b) {
    hostEnd = raw.indexOf(']');
    if (hostEnd < 0) return { ok: false, reason: 'IPv6 literal without "]"' };
    const literal = raw.slice(1, hostEnd);
    if (!isIPv6(literal) || literal.includes('%')) return { ok: false, reason: 'not an IPv6 address in brackets' };
    name = `[${literal.toLowerCase()}]`;
    hostEnd += 1;
  } else {
    hostEnd = raw.indexOf(':');
    if (hostEnd < 0) hostEnd = raw.length;
    const problem = hostNameProblem(raw, hostEnd);
    if (problem !== undefined) return { ok: false, reason: problem };
    const end = raw.charCodeAt(hostEnd - 1) === CODE_DOT ? hostEnd - 1 : hostEnd;
    name = raw.slice(0, end).toLowerCase();
  }
  let port: number | undefined;
  if (hostEnd < raw.length) {
    if (raw.charCodeAt(hostEnd) !== CODE_COLON) return { ok: false, reason: 'unexpected characters after the host' };
    const digits = raw.slice(hostEnd + 1);
    if (digits.length === 0 || digits.length > MAX_PORT_DIGITS || !/^[0-9]+$/.test(digits)) return { ok: false, reason: 'the port must be 1-5 digits' };
    port = Number(digits);
    if (port < 1 || port > MAX_PORT) return { ok: false, reason: `the port must be 1-${MAX_PORT}` };
  }
  return { ok: true, authority: { name, port, host: port === undefined ? name : `${name}:${port}` } };
}

/** Why `raw.slice(0, end)` is not a host name (or IPv4 address) the edge accepts, or undefined. */
function hostNameProblem(raw: string, end: number): string | undefined {
  if (end === 0) return 'empty host';
  // One trailing dot marks a fully qualified name; it is not part of the name.
  const nameEnd = raw.charCodeAt(end - 1) === CODE_DOT ? end - 1 : end;
  if (nameEnd === 0) return 'empty host';
  if (nameEnd > MAX_HOST_LENGTH_CHARS) return `host longer than ${MAX_HOST_LENGTH_CHARS} characters`;
  let labelStart = 0;
  for (let i = 0; i <= nameEnd; i++) {
    const code = i < nameEnd ? raw.charCodeAt(i) : CODE_DOT;
    if (code === CODE_DOT) {
      const length = i - labelStart;
      if (length === 0) return 'empty label in the host';
      if (length > MAX_LABEL_LENGTH_CHARS) return `label longer than ${MAX_LABEL_LENGTH_CHARS} characters in the host`;
      labelStart = i + 1;
    } else if (!isNameChar(code)) {
      return 'the host may hold only letters, digits, "-", "_" and "."';
    }
  }
  return undefined;
}
