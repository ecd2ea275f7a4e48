import { FallbackTable, parseHostPattern, parseRouteEntry, readFallbackEntries, readRouteEntries, RouteTable, type RouteEntryError, type RouteMatch } from '@hopgate/routes';
import type { CommandContext } from '../context.js';
import { columns } from '../columns.js';
import { CommandFailed, UsageError } from '../usage.js';

/** A host (or `*.` wildcard) argument, folded to lower case; else a UsageError. */
export function parseHostArg(host: string): string {
  const parsed = parseHostPattern(host);
  if (!parsed.ok) throw new UsageError(`invalid host ${JSON.stringify(host)}: ${parsed.reason}`);
  return parsed.host.pattern;
}

/** Validates `route set` arguments exactly as the ingress will read the entry; else a UsageError. */
export function parseRouteArgs(host: string, path: string, target: string): RouteMatch {
  const parsed = parseRouteEntry({ host, field: path, value: target });
  if (parsed.ok) return parsed.route;
  const where = parsed.hostProblem ? `host ${JSON.stringify(host)}` : `route ${JSON.stringify(`${host} ${path} ${target}`)}`;
  throw new UsageError(`invalid ${where}: ${parsed.error.reason}`);
}

/** `route set <host> <path> <client>/<service>` (already validated by parseRouteArgs). */
export async function routeSet(ctx: CommandContext, route: RouteMatch): Promise<void> {
  const key = ctx.keys.route(route.host);
  const created = await ctx.redis.hset(key, route.pathPrefix, `${route.clientId}/${route.service}`);
  ctx.stderr.write(`${created === 1 ? 'added' : 'updated'} route ${route.route} -> ${route.clientId}/${route.service}\n`);
  if ((await ctx.redis.exists(ctx.keys.client(route.clientId))) === 0) {
    ctx.stderr.write(`warning: client ${route.clientId} is not registered yet (hopgate client add ${route.clientId})\n`);
  }
}

/** `route rm <host> [<path>]`: the path is not validated, so invalid entries can be removed. */
export async function routeRemove(ctx: CommandContext, host: string, path: string | undefined): Promise<void> {
  // An invalid key (or field) can be removed too: it is used as written.
  const parsed = parseHostPattern(host);
  const folded = parsed.ok ? parsed.host.pattern : host;
  const key = ctx.keys.route(folded);
  if (path === undefined) {
    if ((await ctx.redis.del(key)) === 0) throw new CommandFailed(`no routes for ${folded}`);
    ctx.stderr.write(`removed every route of ${folded}\n`);
    return;
  }
  if ((await ctx.redis.hdel(key, path)) === 0) throw new CommandFailed(`no route ${folded}${path}`);
  ctx.stderr.write(`removed route ${folded}${path}\n`);
}

export function describe(e: RouteEntryError): string {
  const field = e.field === undefined ? '' : ` field ${JSON.stringify(e.field)}`;
  const value = e.value === undefined ? '' : ` value ${JSON.stringify(e.value)}`;
  return `warning: invalid entry skipped: key ${JSON.stringify(e.key)}${field}${value}: ${e.reason}\n`;
}

/**
 * `route ls [<host>]` (host already folded by parseHostArg): the table exactly as an ingress
 * would load it, each route with its fallback (`-` for none).
 */
export async function routeList(ctx: CommandContext, host: string | undefined): Promise<void> {
  const only = host;
  const [snapshot, fallbackSnapshot] = await Promise.all([readRouteEntries(ctx.redis, ctx.keys), readFallbackEntries(ctx.redis, ctx.keys)]);
  const { table, errors } = RouteTable.build(snapshot.entries);
  const fallbacks = FallbackTable.build(table, fallbackSnapshot.entries, fallbackSnapshot.pages);
  const routes = table.entries().filter((r) => only === undefined || r.host === only);
  const fallbackOf = (r: RouteMatch): string => fallbacks.table.forRoute(r)?.label ?? '-';
  // The header even when empty: an empty listing is an answer, not a silence.
  ctx.stdout.write(columns([['HOST', 'PATH', 'TARGET', 'FALLBACK'], ...routes.map((r) => [r.host, r.pathPrefix, `${r.clientId}/${r.service}`, fallbackOf(r)])]));
  for (const e of [...snapshot.errors, ...errors]) {
    if (only === undefined || ctx.keys.hostOfRouteKey(e.key)?.toLowerCase() === only) ctx.stderr.write(describe(e));
  }
  for (const e of [...fallbackSnapshot.errors, ...fallbacks.errors]) {
    if (only === undefined || ctx.keys.hostOfFallbackKey(e.key)?.toLowerCase() === only) ctx.stderr.write(describe(e));
  }
}
