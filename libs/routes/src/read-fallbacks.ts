import type { Redis } from 'ioredis';
import { ReplyError } from 'ioredis';
import type { RedisKeys } from '@hopgate/keys';
import { FALLBACK_PAGE_VALUE_PREFIX, type RawFallbackEntry } from './fallback-entry.js';
import { MAX_FALLBACK_PAGE_BODY_BYTES, pageNameProblem, type RawFallbackPage } from './fallback-page.js';
import type { RawPageRead } from './fallback-table.js';
import { scanKeys } from './read-routes.js';
import type { RouteEntryError } from './route-entry.js';

export interface FallbackSnapshot {
  readonly entries: RawFallbackEntry[];
  /** Every page some entry names, by page name. */
  readonly pages: Map<string, RawPageRead>;
  /** Keys under the fallback prefix that are not hashes (WRONGTYPE). */
  readonly errors: RouteEntryError[];
}

type PipelineResults = [Error | null, unknown][];

/**
 * Reads every fallback entry (SCAN MATCH the fallback keys, HGETALL each in one pipeline) and
 * the pages they name: one pipeline of HMGET + HSTRLEN + HEXISTS per page, then one of HGET
 * body for the pages whose body is within MAX_FALLBACK_PAGE_BODY_BYTES, so an oversized body
 * is never read. Throws when Redis cannot be read; a key of the wrong type is reported.
 */
export async function readFallbackEntries(redis: Redis, keys: RedisKeys): Promise<FallbackSnapshot> {
  const fallbackKeys = await scanKeys(redis, keys.fallbackScanPattern);
  const entries: RawFallbackEntry[] = [];
  const errors: RouteEntryError[] = [];
  const pages = new Map<string, RawPageRead>();
  if (fallbackKeys.length === 0) return { entries, pages, errors };
  const pipeline = redis.pipeline();
  for (const key of fallbackKeys) pipeline.hgetall(key);
  const results = ((await pipeline.exec()) ?? []) as PipelineResults;
  fallbackKeys.forEach((key, i) => {
    const hash = replyOf(results, i, () => errors.push({ key, reason: 'HGETALL refused (a fallback key must be a hash)' }));
    const host = keys.hostOfFallbackKey(key);
    if (hash === undefined || host === undefined) return;
    for (const [field, value] of Object.entries(hash as Record<string, string>)) entries.push({ key, host, field, value });
  });
  const names = [
    ...new Set(
      entries
        .filter((e) => e.value.startsWith(FALLBACK_PAGE_VALUE_PREFIX))
        .map((e) => e.value.slice(FALLBACK_PAGE_VALUE_PREFIX.length))
        .filter((name) => pageNameProblem(name) === undefined),
    ),
  ].sort();
  if (names.length === 0) return { entries, pages, errors };
  const heads = redis.pipeline();
  for (const name of names) {
    const key = keys.page(name);
    heads.hmget(key, 'status', 'content_type', 'retry_after').hstrlen(key, 'body').hexists(key, 'body');
  }
  const headResults = ((await heads.exec()) ?? []) as PipelineResults;
  const wanted: { name: string; fields: (string | null)[] }[] = [];
  names.forEach((name, i) => {
    let refused = false;
    const onRefused = (): void => {
      refused = true;
    };
    const fields = replyOf(headResults, i * 3, onRefused) as (string | null)[] | undefined;
    const bodyBytes = replyOf(headResults, i * 3 + 1, onRefused) as number | undefined;
    const hasBody = replyOf(headResults, i * 3 + 2, onRefused) as number | undefined;
    if (refused || fields === undefined || bodyBytes === undefined || hasBody === undefined) {
      pages.set(name, { ok: false, reason: `key ${JSON.stringify(keys.page(name))} is not a hash` });
      return;
    }
    if (hasBody === 0 && fields.every((f) => f === null)) {
      pages.set(name, { ok: false, reason: `key ${JSON.stringify(keys.page(name))} does not exist` });
      return;
    }
    if (bodyBytes > MAX_FALLBACK_PAGE_BODY_BYTES) {
      pages.set(name, { ok: false, reason: `body of ${bodyBytes} bytes is over the ${MAX_FALLBACK_PAGE_BODY_BYTES}-byte limit` });
      return;
    }
    if (hasBody === 0) {
      pages.set(name, { ok: true, raw: rawPage(fields, undefined) });
      return;
    }
    wanted.push({ name, fields });
  });
  if (wanted.length === 0) return { entries, pages, errors };
  const bodies = redis.pipeline();
  for (const w of wanted) bodies.hgetBuffer(keys.page(w.name), 'body');
  const bodyResults = ((await bodies.exec()) ?? []) as PipelineResults;
  wanted.forEach((w, i) => {
    const body = replyOf(bodyResults, i, () => undefined) as Buffer | null | undefined;
    if (body === undefined) {
      pages.set(w.name, { ok: false, reason: `key ${JSON.stringify(keys.page(w.name))} is not a hash` });
      return;
    }
    // An edit between the two reads is read as it is now; parseFallbackPage checks the size again.
    pages.set(w.name, { ok: true, raw: rawPage(w.fields, body ?? undefined) });
  });
  return { entries, pages, errors };
}

function rawPage(fields: (string | null)[], body: Buffer | undefined): RawFallbackPage {
  const [status, contentType, retryAfter] = fields;
  return {
    ...(status != null ? { status } : {}),
    ...(contentType != null ? { contentType } : {}),
    ...(retryAfter != null ? { retryAfter } : {}),
    ...(body !== undefined ? { body } : {}),
  };
}

/** Reply `i` of a pipeline; a ReplyError (wrong type) calls `onRefused` and gives undefined; a connection error throws. */
function replyOf(results: PipelineResults, i: number, onRefused: () => void): unknown {
  const [err, reply] = results[i] ?? [new Error('missing pipeline reply'), null];
  if (err) {
    if (err instanceof ReplyError) {
      onRefused();
      return undefined;
    }
    throw err;
  }
  return reply;
}
