import fs from 'node:fs';
import {
  FALLBACK_PAGE_VALUE_PREFIX,
  MAX_FALLBACK_PAGE_BODY_BYTES,
  parseFallbackEntry,
  parseFallbackPage,
  parseHostPattern,
  readRouteEntries,
  RouteTable,
  type ParsedFallbackEntry,
} from '@hopgate/routes';
import type { CommandContext } from '../context.js';
import { CommandFailed, UsageError } from '../usage.js';

/** Status of a page written by `route fallback page` without `--status`. */
export const DEFAULT_PAGE_STATUS = '503';
/** Content type of a page written by `route fallback page` without `--content-type`. */
export const DEFAULT_PAGE_CONTENT_TYPE = 'text/html; charset=utf-8';

/** `route fallback page` options: with `bodyFile` the page is (re)written, else it must exist. */
export interface PageOptions {
  status?: string;
  contentType?: string;
  bodyFile?: string;
  retryAfter?: string;
}

/** A page to write, validated exactly as the ingress will read it. */
export interface PageToWrite {
  name: string;
  status: string;
  contentType: string;
  body: Buffer;
  retryAfter: string | undefined;
}

/** Validates `route fallback set` / `page` arguments exactly as the ingress will read the entry; else a UsageError. */
export function parseFallbackArgs(host: string, path: string, value: string): ParsedFallbackEntry {
  const parsed = parseFallbackEntry({ host, field: path, value });
  if (parsed.ok) return parsed.entry;
  const where = parsed.hostProblem ? `host ${JSON.stringify(host)}` : `fallback ${JSON.stringify(`${host} ${path} ${value}`)}`;
  throw new UsageError(`invalid ${where}: ${parsed.error.reason}`);
}

/** Reads and validates the page options (the body file included); undefined when no page is to be written. */
export function parsePageOptions(name: string, options: PageOptions): PageToWrite | undefined {
  if (options.bodyFile === undefined) {
    if (options.status !== undefined || options.contentType !== undefined || options.retryAfter !== undefined) {
      throw new UsageError('--status, --content-type and --retry-after go with --body-file (they write the page)');
    }
    return undefined;
  }
  let body: Buffer;
  try {
    const size = fs.statSync(options.bodyFile).size;
    if (size > MAX_FALLBACK_PAGE_BODY_BYTES) throw new UsageError(`--body-file ${options.bodyFile}: ${size} bytes, over the ${MAX_FALLBACK_PAGE_BODY_BYTES}-byte limit`);
    body = fs.readFileSync(options.bodyFile);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--body-file ${options.bodyFile}: ${(err as Error).message}`);
  }
  const page: PageToWrite = {
    name,
    status: options.status ?? DEFAULT_PAGE_STATUS,
    contentType: options.contentType ?? DEFAULT_PAGE_CONTENT_TYPE,
    body,
    retryAfter: options.retryAfter,
  };
  const checked = parseFallbackPage(name, { status: page.status, contentType: page.contentType, body, ...(page.retryAfter === undefined ? {} : { retryAfter: page.retryAfter }) });
  if (!checked.ok) throw new UsageError(`invalid page ${JSON.stringify(name)}: ${checked.reason}`);
  return page;
}

/** Warns when the entry has no route to stand in for, or names the route's own client. */
async function warnAboutRoute(ctx: CommandContext, entry: ParsedFallbackEntry): Promise<void> {
  const { table } = RouteTable.build((await readRouteEntries(ctx.redis, ctx.keys)).entries);
  const route = table.entries().find((r) => r.route === entry.route);
  if (route === undefined) {
    ctx.stderr.write(`warning: no route ${entry.route} yet: the fallback is used once that route exists (hopgate route set ${entry.host} ${entry.pathPrefix} <client>/<service>)\n`);
  } else if (entry.ref.kind === 'target' && entry.ref.clientId === route.clientId) {
    ctx.stderr.write(`warning: the fallback names the route's own client ${route.clientId}, which is offline whenever the route is: it is skipped\n`);
  }
}

/** Checks that page `name` exists and is valid, as the ingress will read it. */
async function checkPage(ctx: CommandContext, name: string): Promise<void> {
  const hash = await ctx.redis.hgetallBuffer(ctx.keys.page(name));
  if (Object.keys(hash).length === 0) throw new CommandFailed(`no page ${name} (write it with --body-file, or HSET ${ctx.keys.page(name)} status ... content_type ... body ...)`);
  const text = (field: string): string | undefined => hash[field]?.toString('utf8');
  const status = text('status');
  const contentType = text('content_type');
  const retryAfter = text('retry_after');
  const checked = parseFallbackPage(name, {
    ...(status === undefined ? {} : { status }),
    ...(contentType === undefined ? {} : { contentType }),
    ...(retryAfter === undefined ? {} : { retryAfter }),
    ...(hash['body'] === undefined ? {} : { body: hash['body'] }),
  });
  if (!checked.ok) throw new CommandFailed(`page ${name} is not usable: ${checked.reason}`);
}

/** `route fallback set <host> <path> <client>/<service>|page:<name>` (validated by parseFallbackArgs). */
export async function fallbackSet(ctx: CommandContext, entry: ParsedFallbackEntry): Promise<void> {
  if (entry.ref.kind === 'page') await checkPage(ctx, entry.ref.name);
  const created = await ctx.redis.hset(ctx.keys.fallback(entry.host), entry.pathPrefix, entry.label);
  ctx.stderr.write(`${created === 1 ? 'added' : 'updated'} fallback ${entry.route} -> ${entry.label}\n`);
  if (entry.ref.kind === 'target' && (await ctx.redis.exists(ctx.keys.client(entry.ref.clientId))) === 0) {
    ctx.stderr.write(`warning: client ${entry.ref.clientId} is not registered yet (hopgate client add ${entry.ref.clientId})\n`);
  }
  await warnAboutRoute(ctx, entry);
}

/** `route fallback page <host> <path> <name> [--status N --content-type T --body-file F --retry-after S]`. */
export async function fallbackPage(ctx: CommandContext, entry: ParsedFallbackEntry, page: PageToWrite | undefined): Promise<void> {
  if (page === undefined) return fallbackSet(ctx, entry);
  const key = ctx.keys.page(page.name);
  // The page is replaced whole (a retry_after of an earlier version does not linger), in one transaction.
  const fields: (string | Buffer)[] = ['status', page.status, 'content_type', page.contentType, 'body', page.body];
  if (page.retryAfter !== undefined) fields.push('retry_after', page.retryAfter);
  await ctx.redis.multi().del(key).hset(key, ...fields).exec();
  ctx.stderr.write(`wrote page ${page.name}: status ${page.status}, ${page.contentType}, ${page.body.length} bytes\n`);
  await fallbackSet(ctx, entry);
}

/** `route fallback rm <host> [<path>]`: not validated, so invalid entries can be removed. Pages stay (others may use them). */
export async function fallbackRemove(ctx: CommandContext, host: string, path: string | undefined): Promise<void> {
  const parsed = parseHostPattern(host);
  const folded = parsed.ok ? parsed.host.pattern : host;
  const key = ctx.keys.fallback(folded);
  if (path === undefined) {
    if ((await ctx.redis.del(key)) === 0) throw new CommandFailed(`no fallbacks for ${folded}`);
    ctx.stderr.write(`removed every fallback of ${folded}\n`);
    return;
  }
  if ((await ctx.redis.hdel(key, path)) === 0) throw new CommandFailed(`no fallback ${folded}${path}`);
  ctx.stderr.write(`removed fallback ${folded}${path}\n`);
}

/** The value that names page `name` in a fallback entry. */
export function pageValue(name: string): string {
  return `${FALLBACK_PAGE_VALUE_PREFIX}${name}`;
}
