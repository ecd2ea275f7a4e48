// See scripts/bench-failover.sh. Not a test: figures. A cluster (libs/testkit Cluster: 3 ingresses
// behind a round-robin TCP balancer, 3 hubs, a 3-node NATS cluster, Redis, agents spread over the
// hubs) under continuous keep-alive load through the balancer, while parts are killed and drained
// one after the other. Per fault: failed requests (by status or error code), the gap until service
// resumed (per agent: from the fault to its first success after its first failure; p50 and max
// over the agents it hit), and how long a route edit (HSET, made right after the fault) took to be served by
// every running ingress. After each fault the part is started again and the next fault waits for
// every agent to serve. A table on stdout, JSON in bench/results/failover-<timestamp>.json.
//
// Knobs (env, all optional): BENCH_FAILOVER_AGENTS (6), BENCH_FAILOVER_WORKERS (workers per agent,
// 2), BENCH_FAILOVER_PAUSE_MS (pause between a worker's requests, 20), BENCH_FAILOVER_RESUME_S
// (bound on a fault's recovery, 15), BENCH_FAILOVER_FAULTS (comma-separated subset of the fault
// names below), BENCH_KEEP_DIR=1 (keep the cluster's folder with its logs).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { Cluster } from '../libs/testkit/dist/src/index.js';
import { envNumber } from './bench-env.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const AGENTS = envNumber('BENCH_FAILOVER_AGENTS', 6);
const WORKERS_PER_AGENT = envNumber('BENCH_FAILOVER_WORKERS', 2);
const PAUSE_MS = envNumber('BENCH_FAILOVER_PAUSE_MS', 20);
/** A fault whose agents have not all resumed after this long is reported "not resumed in N s". */
const RESUME_BOUND_S = envNumber('BENCH_FAILOVER_RESUME_S', 15);
/** The load keeps running at least this long after each fault before its figures are taken, in ms. */
const MIN_OBSERVE_MS = 3_000;
/** Bound on the cluster serving every agent again after a part is restarted, in ms. */
const RESTORE_BOUND_MS = 30_000;
/** Quiet time between the restore of one fault and the next fault, in ms. */
const SETTLE_MS = 1_000;
/** A route edit not served by every running ingress after this long is reported as such, in ms. */
const ROUTE_EDIT_BOUND_MS = 10_000;
/** Polling period of each ingress while waiting for a route edit, in ms. */
const ROUTE_POLL_MS = 10;

/** The faults, in order. `part` is what is restarted afterwards. */
const FAULTS = [
  { name: 'hub kill -9', part: 'hub', index: 0, action: 'kill9' },
  { name: 'hub SIGTERM (drain)', part: 'hub', index: 1, action: 'sigterm' },
  { name: 'ingress kill -9', part: 'ingress', index: 0, action: 'kill9' },
  { name: 'ingress SIGTERM (drain)', part: 'ingress', index: 1, action: 'sigterm' },
  { name: 'NATS node kill -9', part: 'nats', index: -1, action: 'kill9' },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (n) => Math.round(n);

function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The NATS node with most ingresses and hubs on it now (the costliest one to lose). */
async function busiestNatsNode(cluster) {
  const counts = cluster.nats.nodes.map(() => 0);
  for (const i of cluster.ingresses) {
    const n = await cluster.natsNodeOf('ingress', i.index);
    if (n !== undefined) counts[n] += 1;
  }
  for (const h of cluster.hubs) {
    const n = await cluster.natsNodeOf('hub', h.index);
    if (n !== undefined) counts[n] += 1;
  }
  return counts.indexOf(Math.max(...counts));
}

/**
 * HSETs a new route for `host` to `agent` and polls every running ingress (but `faulted`, which
 * is going away) directly until it serves the agent's answer there. Resolves with ms from the HSET's reply to each ingress serving.
 */
async function timeRouteEdit(cluster, host, agent, faulted) {
  const ingresses = cluster.ingresses.filter((i) => i !== faulted && cluster.running('ingress', i.index));
  const clients = ingresses.map((i) => new Client(cluster.ingressUrl(i.index), { connect: { ca: cluster.caPem(), servername: host } }));
  try {
    await cluster.setRoute(host, '/', `${agent.clientId}/web`);
    const written = performance.now();
    const perIngress = await Promise.all(
      clients.map(async (client, k) => {
        while (performance.now() - written < ROUTE_EDIT_BOUND_MS) {
          try {
            const res = await client.request({ path: '/', method: 'GET', headers: { host } });
            const body = await res.body.text();
            if (res.statusCode === 200 && body === agent.origin.body) return { ingress: ingresses[k].id, ms: round(performance.now() - written) };
          } catch {
            // the ingress is going away (a drained one): counted as not served if it never does
          }
          await sleep(ROUTE_POLL_MS);
        }
        return { ingress: ingresses[k].id, ms: null };
      }),
    );
    return perIngress;
  } finally {
    await Promise.all(clients.map((c) => c.destroy().catch(() => undefined)));
  }
}

async function runFault(cluster, load, fault, n) {
  const index = fault.part === 'nats' ? await busiestNatsNode(cluster) : fault.index;
  const mark = load.outcomes.length;
  const faultAt = performance.now();
  let stopped;
  if (fault.action === 'kill9') await cluster.kill9(fault.part, index);
  // SIGTERM: the part drains on its own time; measured while it does.
  else stopped = cluster.stop(fault.part, index).catch(() => undefined);
  // The edit goes to an agent whose hub is not the faulted one.
  const editAgent = cluster.agents.find((a) => !(fault.part === 'hub' && a.hub === index)) ?? cluster.agents[0];
  const faultedIngress = fault.part === 'ingress' ? cluster.ingresses[index] : undefined;
  const routeEdit = timeRouteEdit(cluster, `edit-${n}.hopgate.test`, editAgent, faultedIngress);
  // Observe until every agent resumed (or the bound), at least MIN_OBSERVE_MS.
  const boundAt = faultAt + RESUME_BOUND_S * 1000;
  for (;;) {
    await sleep(100);
    const now = performance.now();
    const recovery = load.recovery(mark, faultAt);
    const allResumed = recovery.every((r) => r.resumedMs !== undefined);
    if ((allResumed && now - faultAt >= MIN_OBSERVE_MS) || now >= boundAt) break;
  }
  const recovery = load.recovery(mark, faultAt);
  const stats = load.stats(mark);
  const edit = await routeEdit;
  // Over the agents the fault hit (those with a failure): an agent that never failed resumed at 0.
  const resumed = recovery.filter((r) => r.failed > 0 && r.resumedMs !== undefined).map((r) => r.resumedMs);
  const notResumed = recovery.filter((r) => r.resumedMs === undefined).map((r) => r.name);
  const editMs = edit.map((e) => e.ms);
  const result = {
    fault: fault.name,
    part: `${fault.part}-${index + 1}`,
    requests: stats.ok + stats.failed,
    failed: stats.failed,
    failures: stats.failures,
    agents_failed: recovery.filter((r) => r.failed > 0).length,
    resumed_p50_ms: notResumed.length > 0 ? null : (percentile(resumed, 50) ?? 0),
    resumed_max_ms: notResumed.length > 0 ? null : Math.max(0, ...resumed),
    not_resumed: notResumed,
    resume_bound_s: RESUME_BOUND_S,
    route_edit_max_ms: editMs.includes(null) ? null : Math.max(...editMs),
    route_edit_ms: edit,
    per_agent: recovery,
  };
  // Restore: the part back, every agent serving, a moment of quiet.
  await stopped;
  const restoreStarted = performance.now();
  if (!cluster.running(fault.part, index)) await cluster.restart(fault.part, index);
  await load.waitAllServing(RESTORE_BOUND_MS);
  result.restored_ms = round(performance.now() - restoreStarted);
  await cluster.deleteRoute(`edit-${n}.hopgate.test`);
  await sleep(SETTLE_MS);
  return result;
}

function printTable(results) {
  const head = ['fault', 'part', 'requests', 'failed', 'agents hit', 'resumed p50 ms (hit)', 'resumed max ms', 'route edit ms'];
  const rows = results.map((r) => [
    r.fault,
    r.part,
    String(r.requests),
    String(r.failed),
    `${r.agents_failed}/${r.per_agent.length}`,
    r.not_resumed.length > 0 ? `not resumed in ${r.resume_bound_s} s (${r.not_resumed.length})` : String(r.resumed_p50_ms),
    r.not_resumed.length > 0 ? `not resumed in ${r.resume_bound_s} s` : String(r.resumed_max_ms),
    r.route_edit_max_ms === null ? `not served in ${ROUTE_EDIT_BOUND_MS / 1000} s by ${r.route_edit_ms.filter((e) => e.ms === null).map((e) => e.ingress).join(',')}` : String(r.route_edit_max_ms),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  for (const r of results) {
    const kinds = Object.entries(r.failures).map(([k, v]) => `${k} x${v}`).join(', ');
    if (kinds) console.log(`  ${r.fault}: ${kinds}`);
  }
}

const benchStarted = performance.now();
const wanted = process.env.BENCH_FAILOVER_FAULTS ? new Set(process.env.BENCH_FAILOVER_FAULTS.split(',').map((s) => s.trim())) : undefined;
const faults = wanted ? FAULTS.filter((f) => wanted.has(f.name) || wanted.has(f.name.split(' (')[0])) : FAULTS;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-bench-failover-'));
let cluster;
let load;
try {
  console.log(`starting the cluster (3 ingresses, 3 hubs, 3 NATS nodes, ${AGENTS} agents) in ${dir}`);
  // Every agent knows every hub (a server list), as a deployment with several hubs would configure it.
  cluster = await Cluster.start({ dir, agents: AGENTS, agentServer: (_index, c) => c.hubs.map((h) => c.hubAddress(h.index)).join(',') });
  load = cluster.load({ workersPerTarget: WORKERS_PER_AGENT, pauseMs: PAUSE_MS });
  await load.waitAllServing(RESTORE_BOUND_MS);
  await sleep(SETTLE_MS);
  const results = [];
  for (const [i, fault] of faults.entries()) {
    console.log(`fault ${i + 1}/${faults.length}: ${fault.name}`);
    results.push(await runFault(cluster, load, fault, i + 1));
  }
  await load.stop();
  const total = load.stats();
  console.log('');
  printTable(results);
  const totalS = Math.round((performance.now() - benchStarted) / 100) / 10;
  console.log(`\nload: ${total.ok + total.failed} requests, ${total.failed} failed, ${AGENTS} agents x ${WORKERS_PER_AGENT} keep-alive workers (pause ${PAUSE_MS} ms); run took ${totalS} s`);
  const crashes = cluster.crashSigns();
  if (crashes.length > 0) console.log(`crash signs:\n  ${crashes.join('\n  ')}`);

  const out = path.join(root, 'bench', 'results');
  fs.mkdirSync(out, { recursive: true });
  const date = new Date().toISOString();
  const file = path.join(out, `failover-${date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify(
      {
        date,
        node: process.version,
        cpus: os.cpus().length,
        loadavg: os.loadavg(),
        seconds: totalS,
        settings: { agents: AGENTS, workers_per_agent: WORKERS_PER_AGENT, pause_ms: PAUSE_MS, resume_bound_s: RESUME_BOUND_S, min_observe_ms: MIN_OBSERVE_MS },
        faults: results,
        load: { requests: total.ok + total.failed, failed: total.failed, failures: total.failures },
        crash_signs: crashes,
      },
      null,
      2,
    ),
  );
  console.log(`saved ${path.relative(process.cwd(), file)}`);
} finally {
  await load?.stop().catch(() => undefined);
  await cluster?.stop();
  if (process.env.BENCH_KEEP_DIR) console.log(`logs kept in ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
