import { MAX_HOST_LENGTH_CHARS, MAX_LABEL_LENGTH_CHARS } from './limits.js';

/** The prefix that marks a wildcard host key: `*.example.com`. */
export const WILDCARD_HOST_PREFIX = '*.';

/** A route key's host, validated and folded to lower case. */
export interface HostPattern {
  /** Folded pattern as written in the table: `app.example.com` or `*.example.com`. */
  readonly pattern: string;
  /** For `*.example.com`: `example.com`; undefined for an exact host. */
  readonly wildcardSuffix: string | undefined;
}

export type HostPatternResult = { ok: true; host: HostPattern } | { ok: false; reason: string };

const CODE_A = 97;
const CODE_Z = 122;
const CODE_UPPER_A = 65;
const CODE_UPPER_Z = 90;
const CODE_0 = 48;
const CODE_9 = 57;
const CODE_DASH = 45;
const CODE_DOT = 46;
const CODE_COLON = 58;
const CODE_BRACKET = 91;
const CODE_STAR = 42;

/**
 * Why `name` (already lower case) is not a DNS host name, or undefined when it is one.
 * Labels of 1-63 characters of [a-z0-9-], not starting or ending with `-`, total <= 253
 * (RFC 1035 section 2.3.1 preferred name syntax, relaxed by RFC 1123 section 2.1 to allow a leading digit).
 */
export function dnsNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty host name';
  if (name.length > MAX_HOST_LENGTH_CHARS) return `host name longer than ${MAX_HOST_LENGTH_CHARS} characters`;
  let labelStart = 0;
  for (let i = 0; i <= name.length; i++) {
    const code = i < name.length ? name.charCodeAt(i) : CODE_DOT;
    if (code === CODE_DOT) {
      const length = i - labelStart;
      if (length === 0) return 'empty label in host name';
      if (length > MAX_LABEL_LENGTH_CHARS) return `label longer than ${MAX_LABEL_LENGTH_CHARS} characters in host name`;
      if (name.charCodeAt(labelStart) === CODE_DASH || name.charCodeAt(i - 1) === CODE_DASH) {
        return 'label starts or ends with "-" in host name';
      }
      labelStart = i + 1;
      continue;
    }
    const ok = (code >= CODE_A && code <= CODE_Z) || (code >= CODE_0 && code <= CODE_9) || code === CODE_DASH;
    if (!ok) return `character ${JSON.stringify(name[i])} not allowed in host name (only a-z, 0-9, "-" and ".")`;
  }
  return undefined;
}

/**
 * Validates the host part of a route key: a DNS name or `*.` + a DNS name.
 * Upper case is accepted and folded to lower case.
 */
export function parseHostPattern(raw: string): HostPatternResult {
  const folded = raw.toLowerCase();
  const wildcard = folded.startsWith(WILDCARD_HOST_PREFIX);
  const name = wildcard ? folded.slice(WILDCARD_HOST_PREFIX.length) : folded;
  const problem = dnsNameProblem(name);
  if (problem !== undefined) {
    const hint = !wildcard && folded.includes('*') ? ' (a wildcard is written "*.example.com": one leading "*." only)' : '';
    return { ok: false, reason: `${problem}${hint}` };
  }
  return { ok: true, host: { pattern: folded, wildcardSuffix: wildcard ? name : undefined } };
}

/**
 * The host name of a request's `Host` (or `:authority`), folded for lookup: port removed,
 * lower case, one trailing dot removed (RFC 9110 section 7.2: `host [ ":" port ]`).
 * Returns undefined for an IPv6 literal or an empty host (no route can name them).
 * Allocation-free when the host is already lower case without a port.
 */
export function requestHostName(hostHeader: string): string | undefined {
  if (hostHeader.length === 0 || hostHeader.charCodeAt(0) === CODE_BRACKET) return undefined;
  let end = hostHeader.length;
  let hasUpper = false;
  for (let i = 0; i < end; i++) {
    const code = hostHeader.charCodeAt(i);
    if (code === CODE_COLON) {
      end = i;
      break;
    }
    if (code >= CODE_UPPER_A && code <= CODE_UPPER_Z) hasUpper = true;
  }
  if (end > 0 && hostHeader.charCodeAt(end - 1) === CODE_DOT) end -= 1;
  if (end === 0) return undefined;
  const name = end === hostHeader.length ? hostHeader : hostHeader.slice(0, end);
  return hasUpper ? name.toLowerCase() : name;
}

/**
 * For a request host `a.example.com`, the suffix a one-label wildcard would be stored
 * under (`example.com`); undefined when the host has a single label or starts oddly.
 */
export function wildcardSuffixOf(hostName: string): string | undefined {
  const dot = hostName.indexOf('.');
  if (dot <= 0 || dot === hostName.length - 1) return undefined;
  if (dot === 1 && hostName.charCodeAt(0) === CODE_STAR) return undefined;
  return hostName.slice(dot + 1);
}
