import { parseFallbackEntry, type ParsedFallbackEntry, type RawFallbackEntry } from './fallback-entry.js';
import { parseFallbackPage, type FallbackPage, type FallbackPageResult, type RawFallbackPage } from './fallback-page.js';
import { compareStrings } from './route-diff.js';
import type { RouteEntryError, RouteMatch } from './route-entry.js';
import type { RouteTable } from './route-table.js';

/** What stands in for a route while its client is offline. Frozen, shared by every request. */
export type RouteFallback =
  | { readonly kind: 'target'; readonly clientId: string; readonly service: string; readonly label: string }
  | { readonly kind: 'page'; readonly page: FallbackPage; readonly label: string };

/** One route's fallback, for listings and diffs. */
export interface FallbackBinding {
  /** The route it stands in for: `<host><pathPrefix>`. */
  readonly route: string;
  readonly host: string;
  readonly pathPrefix: string;
  readonly fallback: RouteFallback;
}

/** A page hash as read: its fields, or why it could not be read (missing, not a hash, too large). */
export type RawPageRead = { ok: true; raw: RawFallbackPage } | { ok: false; reason: string };

/** What changed between two fallback tables (labels `<route> -> <fallback>`), for the log. */
export interface FallbackDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

interface Candidate {
  readonly entry: ParsedFallbackEntry;
  readonly key: string;
  readonly canonical: boolean;
}

/**
 * The fallbacks of the route table (docs/redis.md, "Fallbacks"): `hopgate:fallback:<host>`
 * field `<prefix>` stands in for the route `hopgate:route:<host>` field `<prefix>`, exactly
 * that one (same host key, same prefix). Immutable; swapped together with its route table.
 */
export class FallbackTable {
  static readonly EMPTY: FallbackTable = new FallbackTable(new Map(), []);

  private constructor(
    private readonly byRoute: ReadonlyMap<string, RouteFallback>,
    private readonly sorted: readonly FallbackBinding[],
  ) {}

  /**
   * Validates fallback entries against the routes they stand in for and the pages they name.
   * An entry is skipped, with its reason in `errors`, when it is malformed, has no route (it
   * would never be used), names the route's own client (offline whenever the route is), or
   * names a page that is missing or invalid. The result does not depend on entry order.
   */
  static build(
    routes: RouteTable,
    entries: Iterable<RawFallbackEntry>,
    pages: ReadonlyMap<string, RawPageRead>,
  ): { table: FallbackTable; errors: RouteEntryError[] } {
    const errors: RouteEntryError[] = [];
    const badHostKeys = new Set<string>();
    const candidates: Candidate[] = [];
    const ordered = [...entries].sort((a, b) => compareStrings(a.key ?? a.host, b.key ?? b.host) || compareStrings(a.field, b.field));
    for (const raw of ordered) {
      const parsed = parseFallbackEntry(raw);
      if (!parsed.ok) {
        if (parsed.hostProblem) {
          if (badHostKeys.has(parsed.error.key)) continue;
          badHostKeys.add(parsed.error.key);
        }
        errors.push(parsed.error);
        continue;
      }
      candidates.push({ entry: parsed.entry, key: raw.key ?? raw.host, canonical: raw.host === parsed.entry.host });
    }
    // Two keys that differ only in case name the same host: the lower-case key wins (as for routes).
    candidates.sort((a, b) => compareStrings(a.entry.route, b.entry.route) || Number(b.canonical) - Number(a.canonical) || compareStrings(a.key, b.key));
    const routeByName = new Map<string, RouteMatch>();
    for (const r of routes.entries()) routeByName.set(r.route, r);
    const parsedPages = new Map<string, FallbackPageResult>();
    const pageOf = (name: string): FallbackPageResult => {
      let result = parsedPages.get(name);
      if (result === undefined) {
        const read = pages.get(name);
        if (read === undefined) result = { ok: false, reason: 'page key missing' };
        else result = read.ok ? parseFallbackPage(name, read.raw) : { ok: false, reason: read.reason };
        parsedPages.set(name, result);
      }
      return result;
    };
    const byRoute = new Map<string, RouteFallback>();
    const kept: FallbackBinding[] = [];
    let previous: Candidate | undefined;
    for (const c of candidates) {
      const { entry } = c;
      const skip = (reason: string): void => {
        errors.push({ key: c.key, field: entry.pathPrefix, value: entry.label, reason });
      };
      if (previous !== undefined && previous.entry.route === entry.route) {
        skip(`duplicate of the same field in key ${JSON.stringify(previous.key)} (host names ignore case); ignored`);
        continue;
      }
      previous = c;
      const route = routeByName.get(entry.route);
      if (route === undefined) {
        skip(`no route ${entry.route} (a fallback stands in for the route of the same host key and path prefix): unused`);
        continue;
      }
      let fallback: RouteFallback;
      if (entry.ref.kind === 'target') {
        if (entry.ref.clientId === route.clientId) {
          skip(`names the route's own client "${route.clientId}", which is offline whenever the route is`);
          continue;
        }
        fallback = Object.freeze({ kind: 'target', clientId: entry.ref.clientId, service: entry.ref.service, label: entry.label });
      } else {
        const page = pageOf(entry.ref.name);
        if (!page.ok) {
          skip(`page "${entry.ref.name}" is not usable: ${page.reason}`);
          continue;
        }
        fallback = Object.freeze({ kind: 'page', page: page.page, label: entry.label });
      }
      byRoute.set(entry.route, fallback);
      kept.push(Object.freeze({ route: entry.route, host: entry.host, pathPrefix: entry.pathPrefix, fallback }));
    }
    kept.sort((a, b) => compareStrings(a.host, b.host) || compareStrings(a.pathPrefix, b.pathPrefix));
    return { table: new FallbackTable(byRoute, Object.freeze(kept)), errors };
  }

  /** Number of usable fallbacks. */
  get size(): number {
    return this.sorted.length;
  }

  /** Every usable fallback, sorted by host then path prefix. */
  entries(): readonly FallbackBinding[] {
    return this.sorted;
  }

  /** The fallback of a matched route, if it has one. One map lookup. */
  forRoute(match: RouteMatch): RouteFallback | undefined {
    return this.byRoute.get(match.route);
  }

  /** What changed from this table to `next`; a page whose content changed counts as changed. */
  diff(next: FallbackTable): FallbackDiff {
    const describe = (b: FallbackBinding): string => `${b.route} -> ${b.fallback.label}`;
    const added: string[] = [];
    const changed: string[] = [];
    for (const b of next.sorted) {
      const before = this.byRoute.get(b.route);
      if (before === undefined) added.push(describe(b));
      else if (!sameFallback(before, b.fallback)) changed.push(describe(b));
    }
    const removed = this.sorted.filter((b) => !next.byRoute.has(b.route)).map(describe);
    return { added, removed, changed };
  }
}

function sameFallback(a: RouteFallback, b: RouteFallback): boolean {
  if (a.kind === 'target' || b.kind === 'target') return a.label === b.label;
  const p = a.page;
  const q = b.page;
  return p.name === q.name && p.status === q.status && p.contentType === q.contentType && p.retryAfterS === q.retryAfterS && p.body.equals(q.body);
}
