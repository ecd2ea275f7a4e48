import { parseHostPattern } from './host.js';
import { pathPrefixProblem } from './path-prefix.js';
import { parseRouteTarget } from './route-target.js';

/** One hash field of one route key, as read from Redis (nothing validated yet). */
export interface RawRouteEntry {
  /** Host part of the key as stored: `app.example.com`, `*.example.com`, `App.Example.com`. */
  readonly host: string;
  /** Hash field: the path prefix. */
  readonly field: string;
  /** Hash value: `<client_id>/<service>`. */
  readonly value: string;
  /** The Redis key it came from (for error reports); default: the host. */
  readonly key?: string;
}

/** A valid route; also what `RouteTable.match` returns. Frozen, shared, never copied per request. */
export interface RouteMatch {
  /** The key's host pattern, folded to lower case: `app.example.com` or `*.example.com`. */
  readonly host: string;
  /** The matched path prefix (the hash field). */
  readonly pathPrefix: string;
  readonly clientId: string;
  readonly service: string;
  /** `<host><pathPrefix>`, e.g. `app.example.com/api`: the route's name in logs. */
  readonly route: string;
}

/** An entry that was skipped, with the reason. `field`/`value` are absent for key-level problems. */
export interface RouteEntryError {
  readonly key: string;
  readonly field?: string;
  readonly value?: string;
  readonly reason: string;
}

export type ParsedRouteEntry =
  | { ok: true; route: RouteMatch; wildcardSuffix: string | undefined }
  | { ok: false; error: RouteEntryError; hostProblem: boolean };

/** Validates one raw entry (host, path prefix and target) into a frozen RouteMatch. */
export function parseRouteEntry(raw: RawRouteEntry): ParsedRouteEntry {
  const key = raw.key ?? raw.host;
  const host = parseHostPattern(raw.host);
  if (!host.ok) return { ok: false, hostProblem: true, error: { key, reason: host.reason } };
  const fail = (reason: string): ParsedRouteEntry => ({
    ok: false,
    hostProblem: false,
    error: { key, field: raw.field, value: raw.value, reason },
  });
  const pathProblem = pathPrefixProblem(raw.field);
  if (pathProblem !== undefined) return fail(pathProblem);
  const target = parseRouteTarget(raw.value);
  if (!target.ok) return fail(target.reason);
  const route: RouteMatch = Object.freeze({
    host: host.host.pattern,
    pathPrefix: raw.field,
    clientId: target.target.clientId,
    service: target.target.service,
    route: `${host.host.pattern}${raw.field}`,
  });
  return { ok: true, route, wildcardSuffix: host.host.wildcardSuffix };
}
