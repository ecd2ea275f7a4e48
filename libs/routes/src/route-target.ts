import { ID_PATTERN } from '@hopgate/config';

/** Where a route sends requests: one service of one client's agent. */
export interface RouteTarget {
  readonly clientId: string;
  readonly service: string;
}

export type RouteTargetResult = { ok: true; target: RouteTarget } | { ok: false; reason: string };

/** Parses a route value `<client_id>/<service>`; both parts must match ID_PATTERN. */
export function parseRouteTarget(value: string): RouteTargetResult {
  const slash = value.indexOf('/');
  if (slash < 0) return { ok: false, reason: 'value must be "<client_id>/<service>"' };
  const clientId = value.slice(0, slash);
  const service = value.slice(slash + 1);
  if (!ID_PATTERN.test(clientId)) return { ok: false, reason: `client id ${JSON.stringify(clientId)} must match ${ID_PATTERN}` };
  if (!ID_PATTERN.test(service)) return { ok: false, reason: `service ${JSON.stringify(service)} must match ${ID_PATTERN}` };
  return { ok: true, target: { clientId, service } };
}

export function formatRouteTarget(target: RouteTarget): string {
  return `${target.clientId}/${target.service}`;
}
