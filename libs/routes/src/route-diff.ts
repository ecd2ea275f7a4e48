import type { RouteMatch } from './route-entry.js';

/** What changed between two tables, each list sorted by route name. */
export interface RouteDiff {
  readonly added: readonly RouteMatch[];
  readonly removed: readonly RouteMatch[];
  readonly changed: readonly { readonly before: RouteMatch; readonly after: RouteMatch }[];
}

export function isEmptyDiff(diff: RouteDiff): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && diff.changed.length === 0;
}

/** The diff from `before` to `after` (both lists of valid routes). */
export function diffRoutes(before: Iterable<RouteMatch>, after: Iterable<RouteMatch>): RouteDiff {
  const old = new Map<string, RouteMatch>();
  for (const r of before) old.set(r.route, r);
  const added: RouteMatch[] = [];
  const changed: { before: RouteMatch; after: RouteMatch }[] = [];
  const seen = new Set<string>();
  for (const r of after) {
    seen.add(r.route);
    const prev = old.get(r.route);
    if (prev === undefined) added.push(r);
    else if (prev.clientId !== r.clientId || prev.service !== r.service) changed.push({ before: prev, after: r });
  }
  const removed = [...old.values()].filter((r) => !seen.has(r.route));
  const byRoute = (a: RouteMatch, b: RouteMatch): number => compareStrings(a.route, b.route);
  return {
    added: added.sort(byRoute),
    removed: removed.sort(byRoute),
    changed: changed.sort((a, b) => byRoute(a.after, b.after)),
  };
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
