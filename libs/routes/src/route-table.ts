import { requestHostName, wildcardSuffixOf } from './host.js';
import { pathPrefixMatches } from './path-prefix.js';
import { parseRouteEntry, type RawRouteEntry, type RouteEntryError, type RouteMatch } from './route-entry.js';
import { compareStrings, diffRoutes, type RouteDiff } from './route-diff.js';

/** Routes of one host pattern, longest path prefix first. */
type PrefixList = readonly RouteMatch[];

interface Candidate {
  readonly route: RouteMatch;
  readonly wildcardSuffix: string | undefined;
  readonly key: string;
  /** The key spells the host exactly as folded (no upper case). */
  readonly canonical: boolean;
}

const NO_ROUTES: PrefixList = Object.freeze([]);

/**
 * An immutable route table. Matching rules (docs/redis.md):
 * - Host: port and case ignored, one trailing dot ignored. An exact key wins; a key
 *   `*.example.com` serves any ONE-label subdomain (`a.example.com`, not `a.b.example.com`
 *   nor `example.com`) that has no exact key. A host with an exact key never falls back to
 *   the wildcard, even when none of its prefixes match or all of its entries are invalid.
 * - Path: longest matching prefix wins, on segment boundaries (see `pathPrefixMatches`).
 */
export class RouteTable {
  static readonly EMPTY: RouteTable = new RouteTable(new Map(), new Map(), []);

  private constructor(
    private readonly exact: ReadonlyMap<string, PrefixList>,
    private readonly wildcard: ReadonlyMap<string, PrefixList>,
    private readonly sorted: readonly RouteMatch[],
  ) {}

  /**
   * Validates and indexes raw entries. Invalid entries are returned in `errors` (one per
   * field, or one per key when the key's host is invalid) and left out; the rest works.
   * The result does not depend on the order of `entries`.
   */
  static build(entries: Iterable<RawRouteEntry>): { table: RouteTable; errors: RouteEntryError[] } {
    const errors: RouteEntryError[] = [];
    const badHostKeys = new Set<string>();
    const presentHosts = new Set<string>();
    const candidates: Candidate[] = [];
    const ordered = [...entries].sort(
      (a, b) => compareStrings(a.key ?? a.host, b.key ?? b.host) || compareStrings(a.field, b.field),
    );
    for (const raw of ordered) {
      const parsed = parseRouteEntry(raw);
      if (!parsed.ok) {
        if (parsed.hostProblem) {
          if (badHostKeys.has(parsed.error.key)) continue;
          badHostKeys.add(parsed.error.key);
        } else {
          presentHosts.add(raw.host.toLowerCase());
        }
        errors.push(parsed.error);
        continue;
      }
      presentHosts.add(parsed.route.host);
      candidates.push({
        route: parsed.route,
        wildcardSuffix: parsed.wildcardSuffix,
        key: raw.key ?? raw.host,
        canonical: raw.host === parsed.route.host,
      });
    }
    // Two keys that differ only in case name the same host: the lower-case key wins a conflict.
    candidates.sort(
      (a, b) =>
        compareStrings(a.route.route, b.route.route) ||
        Number(b.canonical) - Number(a.canonical) ||
        compareStrings(a.key, b.key),
    );
    const exact = new Map<string, RouteMatch[]>();
    const wildcard = new Map<string, RouteMatch[]>();
    const kept: RouteMatch[] = [];
    let previous: Candidate | undefined;
    for (const c of candidates) {
      if (previous !== undefined && previous.route.route === c.route.route) {
        errors.push({
          key: c.key,
          field: c.route.pathPrefix,
          value: `${c.route.clientId}/${c.route.service}`,
          reason: `duplicate of the same field in key ${JSON.stringify(previous.key)} (host names ignore case); ignored`,
        });
        continue;
      }
      previous = c;
      kept.push(c.route);
      const map = c.wildcardSuffix === undefined ? exact : wildcard;
      const mapKey = c.wildcardSuffix ?? c.route.host;
      const list = map.get(mapKey);
      if (list === undefined) map.set(mapKey, [c.route]);
      else list.push(c.route);
    }
    for (const host of presentHosts) {
      if (!host.startsWith('*.') && !exact.has(host)) exact.set(host, []);
    }
    const byLengthDesc = (a: RouteMatch, b: RouteMatch): number => b.pathPrefix.length - a.pathPrefix.length;
    const freeze = (m: Map<string, RouteMatch[]>): Map<string, PrefixList> =>
      new Map([...m].map(([k, list]) => [k, list.length === 0 ? NO_ROUTES : Object.freeze(list.sort(byLengthDesc))]));
    kept.sort((a, b) => compareStrings(a.host, b.host) || compareStrings(a.pathPrefix, b.pathPrefix));
    return { table: new RouteTable(freeze(exact), freeze(wildcard), Object.freeze(kept)), errors };
  }

  /** Number of valid routes. */
  get size(): number {
    return this.sorted.length;
  }

  /** Every valid route, sorted by host then path prefix. */
  entries(): readonly RouteMatch[] {
    return this.sorted;
  }

  /**
   * The route for a request, or undefined (the ingress answers 404).
   * `host` is the request's Host header (port and case ignored); `path` is the request
   * target's path, optionally followed by `?query`. Cost: one or two map lookups plus one
   * `startsWith` per prefix of the host; no regular expression, allocation only to fold case
   * or strip a port.
   */
  match(host: string, path: string): RouteMatch | undefined {
    const name = requestHostName(host);
    if (name === undefined) return undefined;
    let list = this.exact.get(name);
    if (list === undefined) {
      const suffix = wildcardSuffixOf(name);
      if (suffix === undefined) return undefined;
      list = this.wildcard.get(suffix);
      if (list === undefined) return undefined;
    }
    for (const route of list) {
      if (pathPrefixMatches(route.pathPrefix, path)) return route;
    }
    return undefined;
  }

  /** What changed from this table to `next` (for logging). */
  diff(next: RouteTable): RouteDiff {
    return diffRoutes(this.sorted, next.sorted);
  }
}
