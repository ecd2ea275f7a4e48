import { parseHostPattern } from './host.js';
import { pathPrefixProblem } from './path-prefix.js';
import { pageNameProblem } from './fallback-page.js';
import { parseRouteTarget } from './route-target.js';
import type { RouteEntryError } from './route-entry.js';

/** The value prefix of a fallback that is a static page: `page:<name>`. */
export const FALLBACK_PAGE_VALUE_PREFIX = 'page:';

/** One hash field of one fallback key, as read from Redis (nothing validated yet). */
export interface RawFallbackEntry {
  /** Host part of the key as stored (as for routes). */
  readonly host: string;
  /** Hash field: the path prefix of the route it stands in for. */
  readonly field: string;
  /** `<client_id>/<service>` or `page:<name>`. */
  readonly value: string;
  /** The Redis key it came from (for error reports); default: the host. */
  readonly key?: string;
}

/** What a fallback value names. */
export type FallbackRef =
  | { readonly kind: 'target'; readonly clientId: string; readonly service: string }
  | { readonly kind: 'page'; readonly name: string };

/** A syntactically valid fallback entry (not yet paired with its route or page). */
export interface ParsedFallbackEntry {
  /** The key's host pattern, folded to lower case. */
  readonly host: string;
  readonly pathPrefix: string;
  /** `<host><pathPrefix>`: the name of the route it stands in for. */
  readonly route: string;
  readonly ref: FallbackRef;
  /** The value as written: `laptop/web` or `page:maintenance` (the `fallback` log field). */
  readonly label: string;
}

export type FallbackValueResult = { ok: true; ref: FallbackRef } | { ok: false; reason: string };

/** Parses a fallback value: `page:<name>` or `<client_id>/<service>`. */
export function parseFallbackValue(value: string): FallbackValueResult {
  if (value.startsWith(FALLBACK_PAGE_VALUE_PREFIX)) {
    const name = value.slice(FALLBACK_PAGE_VALUE_PREFIX.length);
    const problem = pageNameProblem(name);
    return problem === undefined ? { ok: true, ref: { kind: 'page', name } } : { ok: false, reason: problem };
  }
  const target = parseRouteTarget(value);
  if (!target.ok) return { ok: false, reason: `value must be "<client_id>/<service>" or "page:<name>": ${target.reason}` };
  return { ok: true, ref: { kind: 'target', clientId: target.target.clientId, service: target.target.service } };
}

export type FallbackEntryResult = { ok: true; entry: ParsedFallbackEntry } | { ok: false; error: RouteEntryError; hostProblem: boolean };

/** Validates one raw fallback entry: the host and path prefix as for routes, then the value. */
export function parseFallbackEntry(raw: RawFallbackEntry): FallbackEntryResult {
  const key = raw.key ?? raw.host;
  const host = parseHostPattern(raw.host);
  if (!host.ok) return { ok: false, hostProblem: true, error: { key, reason: host.reason } };
  const fail = (reason: string): FallbackEntryResult => ({ ok: false, hostProblem: false, error: { key, field: raw.field, value: raw.value, reason } });
  const pathProblem = pathPrefixProblem(raw.field);
  if (pathProblem !== undefined) return fail(pathProblem);
  const value = parseFallbackValue(raw.value);
  if (!value.ok) return fail(value.reason);
  const pattern = host.host.pattern;
  return {
    ok: true,
    entry: Object.freeze({ host: pattern, pathPrefix: raw.field, route: `${pattern}${raw.field}`, ref: value.ref, label: raw.value }),
  };
}
