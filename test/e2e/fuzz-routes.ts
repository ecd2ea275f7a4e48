/**
 * The route table of the fuzz suite: two clients (tenants), exact hosts, path prefixes and a
 * wildcard, plus names that must match nothing. The oracle matches requests with the real
 * route matcher (@hopgate/routes) against the same entries.
 */
import { RouteTable, normalizeRequestPath, parseRequestAuthority, type RouteMatch } from '@hopgate/routes';

export interface FuzzRoute {
  host: string;
  prefix: string;
  clientId: string;
  /** Unique across clients: the service that answered names the tenant. */
  service: string;
}

export const FUZZ_CLIENT_A = 'fuzza';
export const FUZZ_CLIENT_B = 'fuzzb';

export const FUZZ_ROUTES: readonly FuzzRoute[] = [
  { host: 'a.hopgate.test', prefix: '/', clientId: FUZZ_CLIENT_A, service: 'a-root' },
  { host: 'a.hopgate.test', prefix: '/api', clientId: FUZZ_CLIENT_A, service: 'a-api' },
  { host: 'only.hopgate.test', prefix: '/only', clientId: FUZZ_CLIENT_A, service: 'a-only' },
  { host: 'b.hopgate.test', prefix: '/', clientId: FUZZ_CLIENT_B, service: 'b-root' },
  { host: '*.wild.hopgate.test', prefix: '/', clientId: FUZZ_CLIENT_B, service: 'b-wild' },
];

/** Host names a request may carry: routed ones, and ones no route may match. */
export const FUZZ_HOSTS: readonly string[] = [
  'a.hopgate.test',
  'b.hopgate.test',
  'only.hopgate.test',
  'x.wild.hopgate.test',
  'wild.hopgate.test',
  'x.y.wild.hopgate.test',
  'nobody.hopgate.test',
];

/** Request paths: prefixes, their segment boundaries, and near misses. */
export const FUZZ_PATHS: readonly string[] = ['/', '/api', '/api/', '/api/x?y=1', '/apix', '/only', '/only/deep', '/onlyx', '/other', '/API', '/api?q', '/only#f'];

/** Names on the ingress certificate for the fuzz stack. */
export const FUZZ_CERT_NAMES: readonly string[] = ['localhost', '*.hopgate.test', '*.wild.hopgate.test'];

const table = RouteTable.build(FUZZ_ROUTES.map((r) => ({ host: r.host, field: r.prefix, value: `${r.clientId}/${r.service}` }))).table;

/** Where the edge must send a request: the Host and target the service receives, and the route. */
export interface ExpectedDestination {
  /** `name[:port]` rebuilt from the parsed authority (lower case, no trailing dot). */
  host: string;
  /** The path in normal form plus the query as sent. */
  url: string;
  route: RouteMatch | undefined;
}

/**
 * What the documented edge rules (docs/architecture.md: Host, Path) make of a request naming
 * `authority` and `target`: its destination, or why the edge must refuse it with 400. The rules'
 * pieces (parseRequestAuthority, normalizeRequestPath) have unit tests of their own; here they
 * tell what the service must have received, so that a request is never routed one way and
 * forwarded another.
 */
export function expectedDestination(authority: string, target: string): ExpectedDestination | { refused: string } {
  const parsed = parseRequestAuthority(authority.trim());
  if (!parsed.ok) return { refused: `authority ${JSON.stringify(authority.slice(0, 60))}: ${parsed.reason}` };
  const query = target.indexOf('?');
  const normal = normalizeRequestPath(query >= 0 ? target.slice(0, query) : target);
  if (!normal.ok) return { refused: normal.reason };
  const url = query >= 0 ? normal.path + target.slice(query) : normal.path;
  return { host: parsed.authority.host, url, route: table.match(parsed.authority.name, normal.path) };
}

/** The route a request for (authority, path) must take, or undefined when none may serve it. */
export function expectedRoute(authority: string, path: string): RouteMatch | undefined {
  const destination = expectedDestination(authority, path);
  return 'refused' in destination ? undefined : destination.route;
}

/** The path a route matches on: the request target without its query. */
export function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q >= 0 ? target.slice(0, q) : target;
}
