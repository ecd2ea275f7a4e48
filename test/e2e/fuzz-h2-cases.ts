/**
 * The HTTP/2 case generator of the fuzz suite: requests for node's http2 client with odd
 * pseudo-headers, header names and values node lets through, many and large headers, split
 * cookies, bodies whose length disagrees with content-length, and resets by the client at
 * random points. Each case is a pure function of (seed, index).
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { SeededRandom } from '@hopgate/testkit';
import { FUZZ_HOSTS, FUZZ_PATHS } from './fuzz-routes.js';
import { EDGE_MAX_HEADER_BYTES } from './fuzz-http1-cases.js';

/** Where the client resets its own stream (RST_STREAM CANCEL), if at all. */
export type ClientReset = 'none' | 'at-once' | 'after-head' | 'mid-upload' | 'after-first-data';

export interface H2Case {
  index: number;
  label: string;
  headers: OutgoingHttpHeaders;
  body: Buffer | undefined;
  /** The body's length disagrees with the content-length sent. */
  lengthMismatch: boolean;
  reset: ClientReset;
  /** The cookie crumbs sent as separate fields (RFC 9113 §8.2.3), if any. */
  cookies: string[];
}

/** Pseudo-header and field-name offsets from a valid request. */
const ODD_PATHS = ['*', 'noslash', 'http://a.hopgate.test/', '//a.hopgate.test/', '/%2e%2e/api', '/..', '/api/../only', '/a\\b', '/\xff', '/?', `/${'a'.repeat(16_000)}`, '/only/../api'];
const ODD_AUTHORITIES = ['A.HOPGATE.TEST', 'a.hopgate.test:443', 'a.hopgate.test.', 'user@a.hopgate.test', '[::1]', 'a.hopgate.test:99999', 'b.hopgate.test:', '127.0.0.1', 'x.y.wild.hopgate.test', '*.wild.hopgate.test'];
const METHODS = ['GET', 'GET', 'POST', 'HEAD', 'PUT', 'OPTIONS', 'DELETE', 'PATCH', 'get', 'TRACE', 'PRI', 'X-CUSTOM'];
/** Header names node's http2 client accepts (it lower-cases them). */
const NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~";

function randomName(rng: SeededRandom): string {
  let name = 'x-';
  const length = rng.between(1, 20);
  for (let i = 0; i < length; i++) name += NAME_CHARS[rng.int(NAME_CHARS.length)];
  return name;
}

/** A header value with bytes from the whole range (node refuses a few; the runner notes that). */
function randomValue(rng: SeededRandom): string {
  const length = rng.between(0, 40);
  let value = '';
  for (let i = 0; i < length; i++) value += String.fromCharCode(rng.chance(0.7) ? rng.between(0x20, 0x7e) : rng.byte());
  return value;
}

export function h2Case(seed: number, index: number): H2Case {
  const rng = SeededRandom.forCase(seed, 1_000_000 + index);
  const labels: string[] = [];
  const method = rng.pick(METHODS);
  const authority = rng.chance(0.8) ? rng.pick(FUZZ_HOSTS) : rng.pick(ODD_AUTHORITIES);
  const path = rng.chance(0.8) ? rng.pick(FUZZ_PATHS) : rng.pick(ODD_PATHS);
  const headers: OutgoingHttpHeaders = { ':method': method, ':path': path, ':scheme': 'https' };
  if (rng.chance(0.9)) headers[':authority'] = authority;
  labels.push(`${method} ${JSON.stringify(authority)}${JSON.stringify(path.slice(0, 40))}${headers[':authority'] === undefined ? ' (no :authority)' : ''}`);
  const hostChoice = rng.int(6);
  if (hostChoice === 0) {
    headers.host = authority;
    labels.push('host = :authority');
  } else if (hostChoice === 1) {
    headers.host = rng.pick(FUZZ_HOSTS);
    labels.push(`host ${headers.host}`);
  }
  const extra = rng.chance(0.5) ? rng.between(1, 6) : 0;
  for (let i = 0; i < extra; i++) headers[randomName(rng)] = randomValue(rng);
  if (extra > 0) labels.push(`${extra} random header(s)`);
  if (rng.chance(0.08)) {
    const count = rng.pick([50, 100, 500, 1_000]);
    for (let i = 0; i < count; i++) headers[`x-many-${i}`] = String(i);
    labels.push(`${count} headers`);
  }
  if (rng.chance(0.08)) {
    const size = EDGE_MAX_HEADER_BYTES + rng.pick([-2_000, -200, -40, 0, 40, 2_000]);
    headers['x-big'] = rng.pick(['a', '"', '\xff', '\\']).repeat(Math.max(0, size));
    labels.push(`one header of ${size} bytes`);
  }
  let cookies: string[] = [];
  if (rng.chance(0.2)) {
    cookies = Array.from({ length: rng.between(1, 5) }, (_, i) => `c${i}=${rng.int(1_000)}`);
    headers.cookie = cookies;
    labels.push(`${cookies.length} cookie crumb(s)`);
  }
  let body: Buffer | undefined;
  let lengthMismatch = false;
  if (method !== 'GET' && method !== 'HEAD' && rng.chance(0.7)) {
    body = rng.bytes(rng.between(0, 4_000));
    if (rng.chance(0.2)) {
      const announced = Math.max(0, body.length + rng.pick([-100, -1, 1, 100]));
      headers['content-length'] = String(announced);
      lengthMismatch = announced !== body.length;
      labels.push(`content-length ${announced} with ${body.length} body bytes`);
    } else {
      labels.push(`body of ${body.length} bytes`);
    }
  }
  const reset: ClientReset = rng.chance(0.12) ? rng.pick(['at-once', 'after-head', 'mid-upload', 'after-first-data'] as const) : 'none';
  if (reset !== 'none') labels.push(`client reset ${reset}`);
  return { index, label: labels.join('; '), headers, body, lengthMismatch, reset, cookies };
}
