/**
 * The fuzz suite against a running stack (issue 9): thousands of mutated HTTP/1.1 requests
 * over raw TLS and plain TCP sockets and hundreds of odd HTTP/2 requests, all seeded
 * (`fuzz seed: N` in every failure; replay with HOPGATE_FUZZ_SEED=N, size with
 * HOPGATE_FUZZ_CASES). Per case the oracle (fuzz-http1-oracle.ts, fuzz-h2-runner.ts) checks
 * that each answer is well formed, is an edge 4xx/5xx or the right service's answer to that
 * very request, and that nothing reaches a service its route does not name. Every
 * HEALTH_CHECK_EVERY_CASES cases and at the end: every process still runs, no `fatal` or
 * `crashed` log line, and a normal request through each agent succeeds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack } from '@hopgate/testkit';
import { PublicClient } from './helpers.js';
import { fuzzSettings } from './fuzz-settings.js';
import { FUZZ_CERT_NAMES, FUZZ_CLIENT_A, FUZZ_CLIENT_B, FUZZ_ROUTES, expectedRoute, pathOf } from './fuzz-routes.js';
import { SERVICE_HEADER, startFuzzOrigin, type FuzzOrigin } from './fuzz-origin.js';
import { http1Case } from './fuzz-http1-cases.js';
import { Http1FuzzClient } from './fuzz-http1-runner.js';
import { h2Case } from './fuzz-h2-cases.js';
import { H2FuzzClient } from './fuzz-h2-runner.js';
import { RawH2Client, rawH2Case } from './fuzz-h2-raw.js';

const settings = fuzzSettings();
const SEED_TEXT = `fuzz seed: ${settings.seed}`;
/** Concurrent raw HTTP/1.1 connections (each runs its cases one after the other). */
const HTTP1_WORKERS = 8;
/** Concurrent HTTP/2 sessions (one stream at a time each, so a session error is one case's). */
const H2_WORKERS = 4;
/** Cases between two health checks of the stack. */
const HEALTH_CHECK_EVERY_CASES = 500;
/** Failures quoted in an assertion message (all are counted). */
const MAX_REPORTED_FAILURES = 12;
/** HOPGATE_BODY_IDLE_TIMEOUT_MS of the fuzz ingress: a body cut short gets its 408 soon. */
const BODY_IDLE_TIMEOUT_MS = 1_000;
/** Budget of one fuzz test, in ms (the default run takes about a minute on 2 loaded cores). */
const FUZZ_TEST_TIMEOUT_MS = 600_000;

let stack: Stack;
let origins: FuzzOrigin[] = [];
let probe: PublicClient;

console.log(SEED_TEXT);

before(async () => {
  origins = await Promise.all(FUZZ_ROUTES.map((r) => startFuzzOrigin(r.service)));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-fuzz-'));
  stack = await Stack.start({
    dir,
    hubs: 1,
    ingressNames: [...FUZZ_CERT_NAMES],
    // Access lines of thousands of requests would cost CPU: warn keeps refusals of note and crashes.
    ingressLogLevel: 'warn',
    ingressEnv: { HOPGATE_HTTP_MODE: 'serve', HOPGATE_BODY_IDLE_TIMEOUT_MS: String(BODY_IDLE_TIMEOUT_MS) },
  });
  for (const clientId of [FUZZ_CLIENT_A, FUZZ_CLIENT_B]) {
    const token = await stack.addClient(clientId);
    const services: Record<string, string> = {};
    for (const route of FUZZ_ROUTES.filter((r) => r.clientId === clientId)) {
      await stack.setRoute(route.host, route.prefix, `${clientId}/${route.service}`);
      services[route.service] = origins.find((o) => o.service === route.service)!.address;
    }
    await stack.startAgent({ clientId, token, services });
  }
  probe = new PublicClient(stack);
});

after(async () => {
  await probe?.close();
  await stack?.stop();
  await Promise.all(origins.map((o) => o.close()));
});

/** Empty when the stack is healthy: processes up, no crash line, a request through each agent answered. */
async function healthProblems(): Promise<string[]> {
  const problems = stack.crashSigns();
  for (const [host, service] of [['a.hopgate.test', 'a-root'], ['b.hopgate.test', 'b-root']] as const) {
    try {
      const res = await probe.request(host, '/health');
      if (res.status !== 200 || res.headers[SERVICE_HEADER] !== service) problems.push(`GET https://${host}/health: ${res.status} ${res.body.toString().slice(0, 200)}`);
    } catch (err) {
      problems.push(`GET https://${host}/health failed: ${(err as Error).message}`);
    }
  }
  return problems;
}

interface RunTally {
  failures: Array<{ index: number; report: string }>;
  kinds: Map<string, number>;
  unhealthy: string[];
  ran: number;
}

/**
 * Runs `total` cases on `workers` concurrent clients in batches of HEALTH_CHECK_EVERY_CASES,
 * with a health check after each batch; stops early once the stack is unhealthy.
 */
async function runCases<C extends { run(index: number): Promise<{ kinds: string[]; report: string | undefined }>; close(): void }>(total: number, workers: C[]): Promise<RunTally> {
  const tally: RunTally = { failures: [], kinds: new Map(), unhealthy: await healthProblems(), ran: 0 };
  // A stack an earlier test broke is reported as such, not as thousands of failed cases.
  for (let start = 0; start < total && tally.unhealthy.length === 0; start += HEALTH_CHECK_EVERY_CASES) {
    const end = Math.min(total, start + HEALTH_CHECK_EVERY_CASES);
    let next = start;
    await Promise.all(
      workers.map(async (worker) => {
        while (next < end) {
          const index = next++;
          let result: { kinds: string[]; report: string | undefined };
          try {
            result = await worker.run(index);
          } catch (err) {
            result = { kinds: ['client error'], report: `${SEED_TEXT}, case ${index}: the test client failed: ${(err as Error).stack ?? String(err)}` };
          }
          tally.ran += 1;
          for (const kind of result.kinds) tally.kinds.set(kind, (tally.kinds.get(kind) ?? 0) + 1);
          if (result.report) tally.failures.push({ index, report: result.report });
        }
      }),
    );
    tally.unhealthy = await healthProblems();
  }
  for (const worker of workers) worker.close();
  return tally;
}

/** Writes every failure of a run to a file in the stack's folder; returns the message for the assertion. */
function verdictMessage(what: string, tally: RunTally): string {
  const failures = [...tally.failures].sort((a, b) => a.index - b.index);
  const file = path.join(stack.dir, `fuzz-failures-${what.replace(/\W+/g, '')}.txt`);
  fs.writeFileSync(file, failures.map((f) => f.report).join('\n'));
  return [
    `${SEED_TEXT}: ${what}: ${failures.length} of ${tally.ran} cases failed${tally.unhealthy.length > 0 ? `; THE STACK IS UNHEALTHY${tally.ran === 0 ? ' (before this test began)' : ''}` : ''} (replay: HOPGATE_FUZZ_SEED=${settings.seed}; all failures in ${file})`,
    ...tally.unhealthy.map((u) => `  unhealthy: ${u}`),
    ...failures.slice(0, MAX_REPORTED_FAILURES).map((f) => f.report),
  ].join('\n');
}

function kindsSummary(tally: RunTally): string {
  return [...tally.kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ');
}

test(`HTTP/1.1: ${settings.http1Cases} mutated requests over TLS and plain TCP; every answer well formed and the right one; the stack stays up`, { timeout: FUZZ_TEST_TIMEOUT_MS }, async (t) => {
  const workers = Array.from({ length: HTTP1_WORKERS }, () => {
    const client = new Http1FuzzClient(stack, settings.seed);
    return {
      run: async (index: number) => {
        const result = await client.run(http1Case(settings.seed, index));
        return { kinds: result.verdict.kinds, report: result.report };
      },
      close: () => client.close(),
    };
  });
  const tally = await runCases(settings.http1Cases, workers);
  t.diagnostic(`${SEED_TEXT}; answers: ${kindsSummary(tally)}`);
  assert.equal(tally.unhealthy.length + tally.failures.length, 0, verdictMessage('HTTP/1.1', tally));
  assert.equal(tally.ran, settings.http1Cases, SEED_TEXT);
});

test(`HTTP/2: ${settings.h2Cases} odd requests (pseudo-headers, names, values, sizes, cookies, resets); every answer the right one; the stack stays up`, { timeout: FUZZ_TEST_TIMEOUT_MS }, async (t) => {
  const workers = Array.from({ length: H2_WORKERS }, () => {
    const client = new H2FuzzClient(stack, settings.seed);
    return {
      run: async (index: number) => {
        const result = await client.run(h2Case(settings.seed, index));
        return { kinds: [result.kind], report: result.report };
      },
      close: () => client.close(),
    };
  });
  const tally = await runCases(settings.h2Cases, workers);
  t.diagnostic(`${SEED_TEXT}; outcomes: ${kindsSummary(tally)}`);
  assert.equal(tally.unhealthy.length + tally.failures.length, 0, verdictMessage('HTTP/2', tally));
  assert.equal(tally.ran, settings.h2Cases, SEED_TEXT);
});

test(`HTTP/2 raw frames: ${settings.h2Cases} hand-built header blocks node's client refuses to send; every stream answered or reset (or GOAWAY), never dropped; the stack stays up`, { timeout: FUZZ_TEST_TIMEOUT_MS }, async (t) => {
  const workers = Array.from({ length: H2_WORKERS }, () => {
    const client = new RawH2Client(stack);
    return {
      run: async (index: number) => {
        const c = rawH2Case(settings.seed, index);
        const outcome = await client.run(c);
        const ok = outcome === 'response' || outcome === 'reset' || outcome === 'goaway';
        const what = outcome === undefined ? `no end of the stream within the deadline` : `the connection closed without GOAWAY`;
        const report = ok ? undefined : `${SEED_TEXT}, HTTP/2 raw case ${index}: ${c.label}\n  - ${what}\n  fields: ${JSON.stringify(c.fields).slice(0, 600)}`;
        return { kinds: [outcome ?? 'timeout'], report };
      },
      close: () => client.close(),
    };
  });
  const tally = await runCases(settings.h2Cases, workers);
  t.diagnostic(`${SEED_TEXT}; outcomes: ${kindsSummary(tally)}`);
  assert.equal(tally.unhealthy.length + tally.failures.length, 0, verdictMessage('HTTP/2 raw', tally));
  assert.equal(tally.ran, settings.h2Cases, SEED_TEXT);
});

test('tenant boundary: every request a service saw is one its route gives it; the stack is healthy at the end', async () => {
  const strays: string[] = [];
  let seen = 0;
  for (const origin of origins) {
    for (const record of origin.seen) {
      seen += 1;
      const route = expectedRoute(record.host, pathOf(record.url));
      if (route?.service !== origin.service) {
        strays.push(`${origin.service} saw ${record.method} ${JSON.stringify(record.url.slice(0, 80))} Host ${JSON.stringify(record.host)}: the route table says ${route?.service ?? 'no route'}`);
      }
    }
  }
  assert.ok(seen > 0, `${SEED_TEXT}: no request reached any service`);
  assert.deepEqual(strays.slice(0, 20), [], `${SEED_TEXT}: ${strays.length} of ${seen} requests reached a service their route does not name`);
  assert.deepEqual(await healthProblems(), [], SEED_TEXT);
});
