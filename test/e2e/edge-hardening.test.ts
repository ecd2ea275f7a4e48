/**
 * The edge refuses what it cannot carry or must not forward, for that request alone:
 * - a request head within HOPGATE_MAX_HEADER_BYTES that grows past the relay's head limit once
 *   encoded gets 431 (it used to throw inside a promise nobody awaited and kill the ingress);
 * - Host / :authority: only `name[:port]` (RFC 9110 §7.2), else 400; the origin gets Host and
 *   X-Forwarded-Host rebuilt from the parsed name and port;
 * - paths: a dot-segment (also as %2e) is refused with 400, encoded unreserved characters are
 *   decoded before routing (and forwarded so), %2F and backslashes are no separators.
 * After each, the ingress is still up and serves the next request.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { NatsSubjects } from '@hopgate/keys';
import { Stack, waitFor } from '@hopgate/testkit';
import { MAX_HEADER_BYTES_LIMIT } from '@hopgate/config';
import { startEdgeOrigin, h2Connect, h2Request, rawRequest, parseRawResponses, type EdgeOrigin } from './edge-helpers.js';
import { assertPublicError, waitForIngressReason } from './helpers.js';

const HOST = 'bound.hopgate.test';
/**
 * HOPGATE_MAX_HEADER_BYTES of the stack under test: the largest the configuration accepts
 * (MAX_HEADER_BYTES_LIMIT), so that a head within it can grow well past the relay's 64 KiB once
 * encoded. (At the default 32 KiB the same can happen by a few hundred bytes: see the
 * https-ingress unit tests of encodeOpenHead.)
 */
const MAX_HEADER_BYTES = MAX_HEADER_BYTES_LIMIT;
/** The crafted head stays this far under MAX_HEADER_BYTES, in bytes. */
const HEAD_MARGIN_BYTES = 512;

let stack: Stack;
/** Serves `/public` (client alice). */
let publicOrigin: EdgeOrigin;
/** Serves `/admin` (client bob): a request routed elsewhere must never reach it. */
let adminOrigin: EdgeOrigin;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-edge-hardening-'));
  stack = await Stack.start({ dir, hubs: 1, ingressEnv: { HOPGATE_MAX_HEADER_BYTES: String(MAX_HEADER_BYTES) } });
  publicOrigin = await startEdgeOrigin();
  adminOrigin = await startEdgeOrigin();
  const alice = await stack.addClient('alice');
  const bob = await stack.addClient('bob');
  await stack.setRoute(HOST, '/public', 'alice/web');
  await stack.setRoute(HOST, '/admin', 'bob/admin');
  await stack.startAgent({ clientId: 'alice', token: alice, services: { web: publicOrigin.address } });
  await stack.startAgent({ clientId: 'bob', token: bob, services: { admin: adminOrigin.address } });
});

after(async () => {
  await stack?.stop();
  await publicOrigin?.close();
  await adminOrigin?.close();
});

/** One HTTP/1.1 request on its own TLS connection (SNI = HOST); the parsed answer. */
async function h1(target: string, headers: string = `host: ${HOST}\r\n`): Promise<{ status: number; headers: Record<string, string[]>; body: string }> {
  const text = await rawRequest(stack, HOST, `GET ${target} HTTP/1.1\r\n${headers}connection: close\r\n\r\n`);
  const [answer] = parseRawResponses(text, ['GET']);
  assert.ok(answer, `no answer to ${target}: ${JSON.stringify(text.slice(0, 200))}`);
  return answer;
}

async function stillServing(): Promise<void> {
  const answer = await h1('/public/ok');
  assert.equal(answer.status, 200, 'the ingress serves the next request');
  assert.equal(stack.ingress.exited, false);
}

test('a head within the header limit that grows past the relay limit once encoded: 431 for it alone, the ingress stays up', async () => {
  // Bytes of obs-text (RFC 9110 §5.5) take two bytes each once encoded as UTF-8 for the relay:
  // ~48 KiB on the wire, ~96 KiB encoded.
  // (Two fields: one value alone is refused at 64 KiB of UTF-8, a limit of its own.)
  const prefix = `GET /public/big HTTP/1.1\r\nhost: ${HOST}\r\nconnection: close\r\nx-obs-text-1: `;
  const second = '\r\nx-obs-text-2: ';
  const half = Math.floor((MAX_HEADER_BYTES - HEAD_MARGIN_BYTES - prefix.length - second.length) / 2);
  const head = Buffer.concat([Buffer.from(prefix, 'latin1'), Buffer.alloc(half, 0xe9), Buffer.from(second, 'latin1'), Buffer.alloc(half, 0xe9), Buffer.from('\r\n\r\n', 'latin1')]);
  assert.ok(head.length < MAX_HEADER_BYTES);
  const before = publicOrigin.seen.length;
  const text = await rawRequest(stack, HOST, head);
  const [answer] = parseRawResponses(text, ['GET']);
  assert.equal(answer?.status, 431, text.slice(0, 300));
  const id = answer.headers['x-hopgate-request-id']?.[0];
  assert.match(answer.body, /^hopgate: request header fields too large\nrequest id: /);
  await waitForIngressReason(stack, id ?? '', /exceeds the relay's limit of 65536/);
  assert.equal(publicOrigin.seen.length, before, 'nothing reached the origin');
  await stillServing();
  // The same head twenty times at once, on separate connections: one answer each, still up.
  const answers = await Promise.all(Array.from({ length: 20 }, () => rawRequest(stack, HOST, head)));
  for (const a of answers) assert.equal(parseRawResponses(a, ['GET'])[0]?.status, 431);
  await stillServing();
});

test('Host: name[:port] only; anything else is 400 and reaches no origin (HTTP/1.1)', async () => {
  const before = publicOrigin.seen.length + adminOrigin.seen.length;
  const bad = [
    `${HOST}:`,
    `${HOST}:0`,
    `${HOST}:65536`,
    `${HOST}:80:80`,
    `user@${HOST}`,
    `${HOST}/public`,
    `${HOST}?x`,
    `bound hopgate.test`,
    `%62ound.hopgate.test`,
    `bound..hopgate.test`,
    `[::1`,
    `[::1]x`,
  ];
  for (const host of bad) {
    const answer = await h1('/public/x', `host: ${host}\r\n`);
    assert.equal(answer.status, 400, `Host ${JSON.stringify(host)}: ${answer.status} ${answer.body}`);
  }
  // The absolute form names the authority too (RFC 9112 §3.2.2).
  assert.equal((await h1(`https://user@${HOST}/public/x`)).status, 400);
  assert.equal((await h1(`https://${HOST}:99999/public/x`)).status, 400);
  assert.equal(publicOrigin.seen.length + adminOrigin.seen.length, before, 'no refused request reached an origin');
  await stillServing();
});

test('the origin gets Host and X-Forwarded-Host rebuilt from the parsed name and port, never the raw bytes', async () => {
  for (const [sent, rebuilt] of [
    ['BOUND.HopGate.test:0443', `${HOST}:443`],
    [`${HOST}.`, HOST],
    [`${HOST}.:8443`, `${HOST}:8443`],
  ] as const) {
    const answer = await h1('/public/echo', `host: ${sent}\r\n`);
    assert.equal(answer.status, 200, sent);
    const seen = publicOrigin.seen.at(-1)!;
    assert.equal(seen.headers.host, rebuilt, sent);
    assert.equal(seen.headers['x-forwarded-host'], rebuilt, sent);
  }
  const session = await h2Connect(stack, HOST);
  try {
    const res = await h2Request(session, { ':path': '/public/echo', ':authority': `Bound.HOPGATE.test:8443` });
    assert.equal(res.status, 200);
    assert.equal(publicOrigin.seen.at(-1)!.headers.host, `${HOST}:8443`);
    const bad = await h2Request(session, { ':path': '/public/echo', ':authority': `${HOST}:` });
    assert.equal(bad.status, 400);
    const disagree = await h2Request(session, { ':path': '/public/echo', ':authority': HOST, host: 'other.hopgate.test' });
    assert.equal(disagree.status, 400);
  } finally {
    session.destroy();
  }
});

test('path boundaries: dot-segments (plain or %2e) are 400; encoded unreserved characters route by their decoded form', async () => {
  const adminBefore = adminOrigin.seen.length;
  for (const target of ['/public/../admin', '/public/%2e%2e/admin', '/public/%2E./admin/', '/public/./x', '/public/..', '/public/x/%2e']) {
    const answer = await h1(target);
    assert.equal(answer.status, 400, `${target}: ${answer.status}`);
    assert.match(answer.body, /^hopgate: invalid path: dot-segment/);
  }
  const session = await h2Connect(stack, HOST);
  try {
    for (const target of ['/public/%2e%2e/admin', '/public/../admin']) {
      assert.equal((await h2Request(session, { ':path': target, ':authority': HOST })).status, 400, target);
    }
  } finally {
    session.destroy();
  }
  assert.equal(adminOrigin.seen.length, adminBefore, 'no dot-segment request reached /admin');

  // `/%61dmin` is `/admin`: it reaches bob's route (and is forwarded in its normal form), never alice's `/`.
  const encoded = await h1('/%61dmin/panel?x=%2e%2e');
  assert.equal(encoded.status, 200);
  assert.equal(adminOrigin.seen.at(-1)?.url, '/admin/panel?x=%2e%2e');
  // An encoded slash is data: `..%2Fadmin` is one segment under /public.
  const slash = await h1('/public/..%2fadmin');
  assert.equal(slash.status, 200);
  assert.equal(publicOrigin.seen.at(-1)?.url, '/public/..%2Fadmin');
  // A backslash is no separator either: `/public\..` is not under `/public`, `/public/a\..\admin` is.
  assert.equal((await h1('/public\\..\\admin')).status, 404);
  const backslash = await h1('/public/a\\..\\admin');
  assert.equal(backslash.status, 200);
  assert.equal(publicOrigin.seen.at(-1)?.url, '/public/a\\..\\admin');
  // Segment boundaries: `/publicity` is not under `/public`.
  const outside = await h1('/publicity');
  assert.equal(outside.status, 404);
  assertPublicError(outside.body, 'ERR_NO_ROUTE', outside.headers['x-hopgate-request-id']?.[0]);
  assert.equal((await h1('/public/%zz')).status, 400);
  await stillServing();
});

/** Messages of each kind the bus test publishes. */
const BUS_GARBAGE_MESSAGES = 500;

test('garbage on every HopGate subject takes no process down and stops nothing: requests keep being served', async () => {
  const nc = await connect({ servers: stack.nats.url });
  const subjects = new NatsSubjects();
  try {
    let seed = 0x9e3779b9;
    const random = (): number => {
      // xorshift32: the same bytes on every run.
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x1_0000_0000;
    };
    const bytes = (max: number): Uint8Array => Uint8Array.from({ length: Math.floor(random() * max) }, () => Math.floor(random() * 256));
    // A relay frame header (magic "HR", version 1, a type, seq, a stream id) over random bodies.
    const frameLike = (): Uint8Array => {
      const id = Buffer.from(`x-${Math.floor(random() * 1e6)}`);
      const header = Buffer.from([0x48, 0x52, 1, Math.floor(random() * 12), 0, 0, 0, Math.floor(random() * 4), id.length]);
      return Buffer.concat([header, id, bytes(200)]);
    };
    const claims = ['{', 'null', '[]', '{"client_id":{}}', '{"client_id":"__proto__","epoch":"1"}', '{"client_id":"constructor","epoch":-1}', '{"epoch":1e308}', '"x"'];
    const targets = [subjects.hub('hub-1'), subjects.ingress('ingress-1'), `${subjects.ingress('ingress-1')}.open.1`, subjects.sessionClaimed, subjects.certUpdated];
    for (let i = 0; i < BUS_GARBAGE_MESSAGES; i++) {
      for (const subject of targets) {
        nc.publish(subject, bytes(300));
        nc.publish(subject, frameLike());
      }
      nc.publish(subjects.sessionClaimed, claims[i % claims.length]!);
      nc.publish(subjects.certUpdated, `{"name":${JSON.stringify('\u0000'.repeat(i % 5))}}`);
      if (i % 50 === 0) await nc.flush();
    }
    await nc.flush();
    for (let i = 0; i < 10; i++) assert.equal((await h1(`/public/after-garbage-${i}`)).status, 200);
    assert.equal(stack.ingress.exited, false);
    assert.equal(stack.hubs[0]!.process.exited, false);
    for (const agent of stack.agents) assert.equal(agent.exited, false);
    for (const proc of [stack.ingress, stack.hubs[0]!.process]) {
      assert.equal(proc.records.some((r) => r.level === 'fatal'), false, `${proc.name} logged nothing fatal`);
    }
  } finally {
    await nc.close();
  }
});

// The last test of the file: Redis stays down (the stack's stop tolerates it).
test('Redis down: a request whose session owner cannot be looked up gets 503 ERR_UNAVAILABLE for itself alone', async () => {
  // A route to a client no request has looked up yet: its owner is in no cache.
  await stack.setRoute(HOST, '/never-read', 'carol/web');
  // Waited for in the ingress's log, not with a request (which would read carol's owner).
  await stack.ingress.waitForLog('the /never-read route applied', (r) => Array.isArray(r['added']) && (r['added'] as string[]).some((a) => a.includes('/never-read')), 10_000);
  await stack.redis.stop();
  // Owners read before stay valid while Redis is away (stale-if-error): alice's route still serves.
  assert.equal((await h1('/public/x')).status, 200);
  const answer = await waitFor('503 while Redis is down', async () => {
    const a = await h1('/never-read/x');
    return a.status === 503 ? a : undefined;
  }, 20_000, 100);
  assert.equal(answer.headers['retry-after']?.[0], '1');
  const id = assertPublicError(answer.body, 'ERR_UNAVAILABLE', answer.headers['x-hopgate-request-id']?.[0]);
  await waitForIngressReason(stack, id, /cannot look up the session of client "carol" in Redis/);
  assert.equal(stack.ingress.exited, false);
  // Requests that need no lookup are still answered by the edge itself.
  assert.equal((await h1('/public/../x')).status, 400);
});
