import { ErrorCode, type ErrorCode as Code } from '@hopgate/errors';
import { normalizeRequestPath, parseRequestAuthority, type RequestAuthority, type RouteMatch, type RouteTable } from '@hopgate/routes';
import { isHttp2, type PublicRequest } from './public-http.js';
import { requestTarget, type RequestTarget } from './request-head.js';

/** A request the edge accepts: where it goes and what the origin will be told. */
export interface AdmittedRequest {
  /** The parsed authority: `name` for the route lookup, `host` rebuilt for Host and X-Forwarded-Host. */
  authority: RequestAuthority;
  /** What the origin receives: Host rebuilt from the authority, the path in normal form plus the query as sent. */
  target: RequestTarget;
  /** The path the route was matched on (normal form, no query). */
  routePath: string;
  match: RouteMatch;
}

/** Why the edge answers a request itself. `publicText` is safe to show; `reason` (with request bytes) is for the log. */
export interface Refusal {
  status: number;
  publicText: string;
  reason: string;
  code?: Code;
}

export type Admission = { ok: true; request: AdmittedRequest } | { ok: false; refusal: Refusal };

function badRequest(publicText: string, reason: string = publicText): Admission {
  return { ok: false, refusal: { status: 400, publicText, reason } };
}

/**
 * The edge's checks of a request head before anything leaves the ingress, shared by requests
 * and upgrades: a target in origin- or absolute-form, an authority of `name[:port]` only
 * (RFC 9110 §7.2; 400 otherwise), a path in normal form without dot-segments
 * (normalizeRequestPath; 400 otherwise), and a route for (name, normal path) (404 otherwise).
 * The request then reaches the route's service only through its normalised path, which is also
 * what the origin receives, so a path can never be read one way for routing and another by the
 * origin.
 */
export function admitRequest(req: PublicRequest, routes: RouteTable): Admission {
  const target = requestTarget(req);
  if ('error' in target) return badRequest('malformed request target', target.error);
  const parsed = parseRequestAuthority(target.authority);
  if (!parsed.ok) return badRequest('invalid Host', `invalid authority ${JSON.stringify(target.authority.slice(0, 300))}: ${parsed.reason}`);
  const authority = parsed.authority;
  if (isHttp2(req)) {
    // RFC 9113 §8.3.1: a Host that names another entity than :authority makes the request malformed.
    const host = req.headers.host;
    if (typeof host === 'string' && host !== target.authority) {
      const other = parseRequestAuthority(host);
      if (!other.ok || other.authority.name !== authority.name) return badRequest('Host and :authority disagree');
    }
  }
  const query = target.path.indexOf('?');
  const rawPath = query >= 0 ? target.path.slice(0, query) : target.path;
  const normal = normalizeRequestPath(rawPath);
  if (!normal.ok) return badRequest(`invalid path: ${normal.reason}`, `${normal.reason}: ${JSON.stringify(rawPath.slice(0, 300))}`);
  const match = routes.match(authority.name, normal.path);
  if (!match) {
    return { ok: false, refusal: { status: 404, publicText: 'no route for this host and path', reason: `no route for ${authority.name}${normal.path.slice(0, 300)}`, code: ErrorCode.NoRoute } };
  }
  const path = normal.path === rawPath ? target.path : query >= 0 ? normal.path + target.path.slice(query) : normal.path;
  return { ok: true, request: { authority, target: { authority: authority.host, path }, routePath: normal.path, match } };
}
