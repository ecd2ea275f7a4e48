import { certNameProblem } from '@hopgate/config';
import type { RouteTable } from '@hopgate/routes';

/** Which names the cert-manager should hold certificates for, split by what it can do. */
export interface WantedNames {
  /** Exact names it orders certificates for (sorted). */
  readonly issuable: readonly string[];
  /** Names it cannot certify with HTTP-01 / TLS-ALPN-01, with the reason (e.g. wildcard route hosts). */
  readonly notIssuable: ReadonlyMap<string, string>;
}

/** The `last_error` of a name that cannot be certified (a wildcard route host, an IP address). */
export function notIssuableReason(name: string, problem: string): string {
  if (!name.startsWith('*.')) return `not issuable: ${problem}`;
  return `not issuable: ${problem}; a host under ${name} gets a certificate once it has its own route or is listed in HOPGATE_ACME_DOMAINS`;
}

/**
 * Wanted names = exact route hosts ∪ HOPGATE_ACME_DOMAINS ∪ HOPGATE_HUB_NAME. Wildcard
 * route hosts cannot be certified without DNS-01 (RFC 8555 §7.1.3: wildcard
 * authorizations are validated with DNS-01 only) and are reported as not issuable.
 */
export function wantedNames(routes: RouteTable, extra: readonly string[]): WantedNames {
  const issuable = new Set<string>();
  const notIssuable = new Map<string, string>();
  const hosts = new Set(routes.entries().map((r) => r.host));
  for (const name of [...hosts, ...extra]) {
    const problem = certNameProblem(name);
    if (problem === undefined) issuable.add(name);
    else notIssuable.set(name, notIssuableReason(name, problem));
  }
  return { issuable: [...issuable].sort(), notIssuable };
}
