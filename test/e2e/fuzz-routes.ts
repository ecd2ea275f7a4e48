/**
 * The route table of the fuzz suite: two clients (tenants), exact hosts, path prefixes and a
 * wildcard, plus names that must match nothing. The oracle matches requests with the real
 * route matcher (@hopgate/routes) against the same entries.
 */
import { RouteTable, type RouteMatch } from '@hopgate/routes';

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

/** The route a request for (authority, path) must take, or undefined when none may serve it. */
export function expectedRoute(authority: string, path: string): RouteMatch | undefined {
  return table.match(authority.trim(), path);
}

/** The path a route matches on: the request target without its query. */
export function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q >= 0 ? target.slice(0, q) : target;
}
