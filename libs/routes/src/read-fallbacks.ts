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
 * the pages they name: one pipeline of HMGET (status, content_type, retry_after) + HSTRLEN
 * body per page, then one of HMGET body for the pages whose body is within
 * MAX_FALLBACK_PAGE_BODY_BYTES, so an oversized body is never read. Throws when Redis cannot be read; a key of the wrong type is reported.
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
    heads.hmget(key, 'status', 'content_type', 'retry_after').hstrlen(key, 'body');
  }
  const headResults = ((await heads.exec()) ?? []) as PipelineResults;
  const wanted: { name: string; fields: (string | null)[] }[] = [];
  names.forEach((name, i) => {
    let refused = false;
    const onRefused = (): void => {
      refused = true;
    };
    const fields = replyOf(headResults, i * 2, onRefused) as (string | null)[] | undefined;
    const bodyBytes = replyOf(headResults, i * 2 + 1, onRefused) as number | undefined;
    if (refused || fields === undefined || bodyBytes === undefined) {
      pages.set(name, { ok: false, reason: `key ${JSON.stringify(keys.page(name))} is not a hash` });
      return;
    }
    if (bodyBytes > MAX_FALLBACK_PAGE_BODY_BYTES) {
      pages.set(name, { ok: false, reason: `body of ${bodyBytes} bytes is over the ${MAX_FALLBACK_PAGE_BODY_BYTES}-byte limit` });
      return;
    }
    wanted.push({ name, fields });
  });
  if (wanted.length === 0) return { entries, pages, errors };
  const bodies = redis.pipeline();
  for (const w of wanted) bodies.hmgetBuffer(keys.page(w.name), 'body');
  const bodyResults = ((await bodies.exec()) ?? []) as PipelineResults;
  wanted.forEach((w, i) => {
    const reply = replyOf(bodyResults, i, () => undefined) as (Buffer | null)[] | undefined;
    if (reply === undefined) {
      pages.set(w.name, { ok: false, reason: `key ${JSON.stringify(keys.page(w.name))} is not a hash` });
      return;
    }
    const body = reply[0] ?? undefined;
    if (body === undefined && w.fields.every((f) => f === null)) {
      pages.set(w.name, { ok: false, reason: `key ${JSON.stringify(keys.page(w.name))} does not exist (or has none of status, content_type, body)` });
      return;
    }
    // An edit between the two reads is read as it is now; parseFallbackPage checks the size again.
    pages.set(w.name, { ok: true, raw: rawPage(w.fields, body) });
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

/**
 * Reply `i` of a pipeline; a WRONGTYPE reply calls `onRefused` and gives undefined; any other
 * error (a connection error, or NOPERM from an ACL) throws. The first word of a Redis error
 * reply is its code (RESP "simple errors").
 */
function replyOf(results: PipelineResults, i: number, onRefused: () => void): unknown {
  const [err, reply] = results[i] ?? [new Error('missing pipeline reply'), null];
  if (err) {
    if (err instanceof ReplyError && err.message.startsWith('WRONGTYPE')) {
      onRefused();
      return undefined;
    }
    throw err;
  }
  return reply;
}
