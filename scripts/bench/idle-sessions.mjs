// The idle-sessions row of `npm run bench`: `count` agent sessions on one hub, opened by a few
// load processes (scripts/bench/idle-agents.mjs, many TunnelAgents each), then left idle.
// Figures: the hub's heapUsed after a full GC (scripts/bench/heap-probe.mjs) before and after,
// per session; the hub's CPU per second of idle over `idleSeconds` (/proc/<pid>/stat).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { ClientStore } from '@hopgate/sessions';
import { Stack, HUB_SERVER_NAME, reapOnExit } from '../../libs/testkit/dist/src/index.js';
import { cpuMsOf, stopChild } from './processes.mjs';
import { heapProbeFile } from './heap-probe.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
/** How long the heap probe may take to appear after SIGUSR2, in ms. */
const HEAP_PROBE_TIMEOUT_MS = 10_000;
/** Quiet time before each heap probe (timers of the last handshakes settle), in ms. */
const SETTLE_MS = 3_000;
/** Period of the session-gauge poll while sessions open, in ms. */
const GAUGE_POLL_MS = 2_000;
/** The hub's gauge of agent sessions on its ops /metrics. */
const SESSIONS_GAUGE = 'hopgate_hub_agent_sessions';
/** The hub's longest event-loop delay since the previous scrape (prom-client default metric), in s. */
const LAG_MAX_GAUGE = 'nodejs_eventloop_lag_max_seconds';

/** Agent sessions the hub holds now, from its ops listener's /metrics (`ops listening` log record). */
async function hubSessions(hub) {
  return (await hubGauges(hub, [SESSIONS_GAUGE]))[SESSIONS_GAUGE] ?? null;
}

/** Values of the hub's ops /metrics gauges `names` (the ops listener from its `ops listening` log record). */
async function hubGauges(hub, names) {
  const listen = hub.process.records.find((r) => r.msg === 'ops listening')?.listen;
  if (!listen) return {};
  const text = await (await fetch(`http://${listen}/metrics`)).text();
  const out = {};
  for (const name of names) {
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
    if (m) out[name] = Number(m[1]);
  }
  return out;
}

/** Handshake admission of the hub, raised: every load process dials from 127.0.0.1. */
const HUB_ADMISSION_ENV = {
  HOPGATE_DTLS_MAX_HANDSHAKES_PER_IP: '1000',
  HOPGATE_DTLS_MAX_UNAUTHENTICATED_PER_IP: '1000',
  HOPGATE_DTLS_HANDSHAKES_PER_IP_PER_S: '100000',
  HOPGATE_DTLS_HANDSHAKE_BURST_PER_IP: '1000',
};

async function heapOf(pid) {
  const file = heapProbeFile(pid);
  fs.rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + HEAP_PROBE_TIMEOUT_MS;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`no heap probe from pid ${pid}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const usage = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.rmSync(file, { force: true });
  return usage;
}

/** Starts one load process with its share of the agents; resolves with the child once all of its agents are online or failed. */
function startLoad(planFile, onProgress) {
  const child = spawn(process.execPath, [...(process.env.BENCH_IDLE_LOAD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean), path.join(here, 'idle-agents.mjs'), planFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  reapOnExit(child);
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.once('exit', (code) => reject(new Error(`idle-agents load process exited (${code})`)));
    child.stdout.on('data', (d) => {
      buffered += d;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        onProgress(line);
        if (line.done) resolve({ child, ...line });
      }
    });
  });
}

/**
 * Runs the row: `count` sessions from `loadProcesses` processes (`handshakesInFlight` at once
 * in all, no new one after `openSeconds`), idle for `idleSeconds`.
 * Returns the figures (sessions reached, heap per session, hub CPU per second idle).
 */
export async function measureIdleSessions({ count, idleSeconds, openSeconds, loadProcesses, handshakesInFlight, originPort, log = console.log }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-bench-idle-'));
  let stack;
  let redis;
  const loads = [];
  try {
    stack = await Stack.start({
      dir,
      hubs: 1,
      // The hub at info: the harness waits for its readiness line. The ingress at warn.
      logLevel: 'info',
      ingressLogLevel: 'warn',
      nodeArgs: ['--expose-gc', '--import', path.join(here, 'heap-probe.mjs')],
      hubEnv: { HOPGATE_AGENT_IDLE_TIMEOUT_MS: '15000', HOPGATE_SESSION_TTL_MS: '15000', ...HUB_ADMISSION_ENV },
    });
    const hubPid = stack.hubs[0].process.child.pid;
    redis = new Redis(stack.redis.url, { lazyConnect: false, maxRetriesPerRequest: 2 });
    const clients = new ClientStore(redis);
    const agents = [];
    for (let i = 0; i < count; i++) {
      const clientId = `idle${i}`;
      agents.push({ clientId, token: await clients.add(clientId) });
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const before = await heapOf(hubPid);
    const perLoad = Math.ceil(count / loadProcesses);
    const progress = new Map();
    let lastLog = 0;
    const onProgress = (i) => (line) => {
      progress.set(i, line);
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        const sum = (key) => [...progress.values()].reduce((n, l) => n + l[key], 0);
        const lag = Math.max(...[...progress.values()].map((l) => l.loop_delay_max_ms));
        log(`  idle sessions: ${sum('online')}/${count} came online, ${sum('live')} up now, ${sum('failed')} failed; load processes' longest event-loop stall ${lag} ms`);
      }
    };
    // The hub's session gauge, polled while the sessions open: its peak is the most it held.
    // Its event-loop lag gauge covers the time since the previous scrape: the largest seen is kept.
    let peakSessions = 0;
    let hubLagMaxS = 0;
    const poll = setInterval(() => {
      hubGauges(stack.hubs[0], [SESSIONS_GAUGE, LAG_MAX_GAUGE]).then((g) => {
        peakSessions = Math.max(peakSessions, g[SESSIONS_GAUGE] ?? 0);
        hubLagMaxS = Math.max(hubLagMaxS, g[LAG_MAX_GAUGE] ?? 0);
      }, () => undefined);
    }, GAUGE_POLL_MS);
    const openStarted = Date.now();
    const hubCpuOpen0 = cpuMsOf(hubPid);
    const results = await Promise.all(
      Array.from({ length: loadProcesses }, (_, i) => {
        const share = agents.slice(i * perLoad, (i + 1) * perLoad);
        const planFile = path.join(dir, `idle-plan-${i}.json`);
        fs.writeFileSync(planFile, JSON.stringify({ server: `127.0.0.1:${stack.hubs[0].port}`, caFile: stack.ca.certFile, serverName: HUB_SERVER_NAME, service: `127.0.0.1:${originPort}`, handshakesInFlight: Math.max(1, Math.round(handshakesInFlight / loadProcesses)), openSeconds, logFile: path.join(stack.logDir, `idle-agents-${i}.log`), agents: share }));
        return startLoad(planFile, onProgress(i)).then((r) => (loads.push(r.child), r));
      }),
    );
    clearInterval(poll);
    const openedSeconds = (Date.now() - openStarted) / 1e3;
    const hubCpuOpenMs = cpuMsOf(hubPid) - hubCpuOpen0;
    const failed = results.reduce((n, r) => n + r.failed, 0);
    const stoppedEarly = results.some((r) => r.stopped_early);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const sessionsAtStart = await hubSessions(stack.hubs[0]);
    const hubCpu0 = cpuMsOf(hubPid);
    const loadCpu0 = loads.map((c) => cpuMsOf(c.pid));
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const hubCpuIdleMs = cpuMsOf(hubPid) - hubCpu0;
    const loadCpuIdleMs = loads.reduce((n, c, i) => n + (cpuMsOf(c.pid) - loadCpu0[i]), 0);
    const after = await heapOf(hubPid);
    // The hub's own count, at the end of the idle time, is what the heap holds.
    const online = (await hubSessions(stack.hubs[0])) ?? 0;
    const heapDelta = after.heapUsed - before.heapUsed;
    return {
      sessions_wanted: count,
      sessions_online: online,
      sessions_at_idle_start: sessionsAtStart,
      sessions_peak_while_opening: Math.max(peakSessions, sessionsAtStart ?? 0),
      agents_came_online: results.reduce((n, r) => n + r.online, 0),
      agents_up_at_end: results.reduce((n, r) => n + r.live, 0),
      sessions_failed: failed,
      opening_stopped_early: stoppedEarly,
      // Stalls that exceed the transport's dead-peer bound (2 s at least) drop sessions.
      load_event_loop_stall_max_ms: Math.max(...results.map((r) => r.loop_delay_max_ms)),
      hub_event_loop_lag_max_ms_while_opening: Math.round(hubLagMaxS * 1000),
      load_processes: loadProcesses,
      handshakes_in_flight: handshakesInFlight,
      open_seconds: +openedSeconds.toFixed(1),
      hub_cpu_ms_opening: Math.round(hubCpuOpenMs),
      hub_heap_used_mib_before: +(before.heapUsed / 1048576).toFixed(1),
      hub_heap_used_mib_after: +(after.heapUsed / 1048576).toFixed(1),
      hub_rss_mib_after: +(after.rss / 1048576).toFixed(1),
      hub_heap_kib_per_session: online ? +(heapDelta / 1024 / online).toFixed(2) : null,
      hub_rss_kib_per_session: online ? +((after.rss - before.rss) / 1024 / online).toFixed(2) : null,
      idle_seconds: idleSeconds,
      hub_cpu_ms_per_s_idle: +(hubCpuIdleMs / idleSeconds).toFixed(2),
      load_cpu_ms_per_s_idle: +(loadCpuIdleMs / idleSeconds).toFixed(2),
    };
  } finally {
    await Promise.all(loads.map((c) => stopChild(c)));
    redis?.disconnect();
    await stack?.stop();
    if (process.env.BENCH_KEEP_DIR) log(`  idle-sessions logs kept in ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}
