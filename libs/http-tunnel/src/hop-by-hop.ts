import type { HeaderPairs } from '@hopgate/wire';

/** Hop-by-hop headers a proxy never forwards (RFC 9110 §7.6.1), plus legacy proxy ones. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** Node's raw header list `[name, value, name, value, ...]` to pairs, lower-cased names. */
export function pairsFromRaw(raw: readonly string[]): HeaderPairs {
  const out: HeaderPairs = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
}

/** Pairs back to Node's flat raw list `[name, value, name, value, ...]` (the inverse of pairsFromRaw). */
export function flattenHeaders(pairs: HeaderPairs): string[] {
  const out: string[] = [];
  for (const [name, value] of pairs) out.push(name, value);
  return out;
}

/**
 * Drops hop-by-hop headers and every header named in `Connection` (RFC 9110 §7.6.1).
 * `keep` names headers to let through anyway (e.g. `upgrade` on an upgrade request).
 */
export function stripHopByHop(headers: HeaderPairs, keep: ReadonlySet<string> = new Set()): HeaderPairs {
  const named = new Set<string>();
  for (const [name, value] of headers) {
    if (name === 'connection') {
      for (const token of value.split(',')) {
        const t = token.trim().toLowerCase();
        if (t) named.add(t);
      }
    }
  }
  return headers.filter(([name]) => keep.has(name) || (!HOP_BY_HOP_HEADERS.has(name) && !named.has(name)));
}
