// See scripts/bench.sh. Not a test: figures, printed as a table and saved as JSON in
// bench/results/<timestamp>.json. Every figure is measured in the same run three ways: the
// origin directly (direct), through an OpenSSH reverse tunnel with nginx in front (ssh -R +
// nginx, scripts/bench/ssh-tunnel.mjs), and through HopGate (ingress -> NATS -> hub -> DTLS ->
// agent). Then the idle-sessions row (scripts/bench/idle-sessions.mjs) and the WAN runs
// (scripts/bench/wan.mjs). docs/benchmark.md describes the rows, the ratios and the knobs.
//
// Knobs (env, all optional): BENCH_WARMUP_S, BENCH_GET_DURATION_S, BENCH_C1_DURATION_S, BENCH_GET_CONNECTIONS,
// BENCH_DOWNLOAD_MIB, BENCH_UPLOAD_MIB, BENCH_PMTU_MIB, BENCH_PMTU_BYTES, BENCH_LOSS_MIB,
// BENCH_LOSS_RATE, BENCH_TRANSFER_DEADLINE_S, BENCH_DTLS_RECORDS, BENCH_NGINX_WORKERS,
// BENCH_IDLE_SESSIONS, BENCH_IDLE_SECONDS, BENCH_IDLE_OPEN_S, BENCH_IDLE_LOAD_PROCESSES, BENCH_IDLE_HANDSHAKES_IN_FLIGHT,
// BENCH_IDLE_LOAD_NODE_ARGS, BENCH_WAN,
// BENCH_WAN_SETTINGS, BENCH_WAN_MIB, BENCH_WAN_GET_CONNECTIONS, BENCH_WAN_GET_DURATION_S,
// BENCH_NODE_ARGS (extra node arguments for the services, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"),
// BENCH_KEEP_DIR=1 (keep the stack's folder with its logs).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { Stack, UdpLossProxy, reapOnExit } from '../libs/testkit/dist/src/index.js';
import { envNumber } from './bench-env.mjs';
import { getLoad, sequentialGet, download, upload, sse, round, nowNs, msSince, SSE_GAP_MS } from './bench/measure.mjs';
import { startSshTunnel } from './bench/ssh-tunnel.mjs';
import { CpuMeter, startBenchOrigin } from './bench/processes.mjs';
import { measureIdleSessions } from './bench/idle-sessions.mjs';
import { runWan, wanSettingsFromEnv } from './bench/wan.mjs';
import { TARGETS, printTable, comparedRow, cpuRows, wanTable } from './bench/report.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Duration of each autocannon GET run, in seconds. */
const GET_DURATION_S = envNumber('BENCH_GET_DURATION_S', 8);
/** Duration of each sequential c=1 GET loop, in seconds. */
const C1_DURATION_S = envNumber('BENCH_C1_DURATION_S', 4);
/** GET c=64 on every path before the first row, not measured: the JIT has optimized HopGate's request path (0 skips it), s. */
const WARMUP_S = envNumber('BENCH_WARMUP_S', 5);
/** Connections of the loaded GET run. */
const GET_CONNECTIONS = envNumber('BENCH_GET_CONNECTIONS', 64);
/** The big download, in MiB: 1 GiB, the size the RSS target is set for. */
const DOWNLOAD_MIB = envNumber('BENCH_DOWNLOAD_MIB', 1024);
const UPLOAD_MIB = envNumber('BENCH_UPLOAD_MIB', 50);
/** Size of the download with the hub-agent link held to PMTU_BYTES datagrams, in MiB. */
const PMTU_MIB = envNumber('BENCH_PMTU_MIB', 200);
/** Largest UDP payload of the held-down path, in bytes: 1500-byte Ethernet less IPv6 (40) and UDP (8) headers. */
const PMTU_BYTES = envNumber('BENCH_PMTU_BYTES', 1452);
/** Size of the download through the lossy path, in MiB. */
const LOSS_MIB = envNumber('BENCH_LOSS_MIB', 50);
/** Datagram loss rate each way on the lossy path; the same rate of datagrams is reordered. */
const LOSS_RATE = envNumber('BENCH_LOSS_RATE', 0.02);
/** How long a reordered datagram is held back on the lossy path, in ms. */
const LOSS_REORDER_DELAY_MS = 3;
/** A transfer still running after this long is cut and reported on the bytes it moved. */
const TRANSFER_DEADLINE_MS = envNumber('BENCH_TRANSFER_DEADLINE_S', 180) * 1000;
/** Records per direction of the DTLS-only ceiling (libs/dtls/bench). */
const DTLS_RECORDS = envNumber('BENCH_DTLS_RECORDS', 30_000);
/** nginx worker processes of the ssh -R path (1: as the one ingress process of HopGate). */
const NGINX_WORKERS = envNumber('BENCH_NGINX_WORKERS', 1);
/** Idle agent sessions on one hub (0 skips the row). */
const IDLE_SESSIONS = envNumber('BENCH_IDLE_SESSIONS', 5000);
/** How long the idle sessions are watched for the hub's CPU, in seconds. */
const IDLE_SECONDS = envNumber('BENCH_IDLE_SECONDS', 20);
/** No idle session is started after this long, in seconds (the hub may stop accepting them). */
const IDLE_OPEN_S = envNumber('BENCH_IDLE_OPEN_S', 300);
/** Processes the idle sessions are opened from (each runs many TunnelAgents). */
const IDLE_LOAD_PROCESSES = envNumber('BENCH_IDLE_LOAD_PROCESSES', 2);
/** Handshakes in flight at once across the idle load processes (the hub's CPU per handshake bounds it). */
const IDLE_HANDSHAKES_IN_FLIGHT = envNumber('BENCH_IDLE_HANDSHAKES_IN_FLIGHT', 8);
/** WAN runs (0 skips them). */
const WAN = envNumber('BENCH_WAN', 1);
/** Period of the /proc/<pid>/status RSS sampler, in ms. */
const RSS_SAMPLE_INTERVAL_MS = 100;
const MIB = 1024 * 1024;
const HOST = 'bench.hopgate.test';
const LOSSY_HOST = 'lossy.hopgate.test';
const PMTU_HOST = 'pmtu.hopgate.test';
const SSH_HOST = 'ssh.hopgate.test';

function rssKibOf(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null; // exited
  }
}

/**
 * Resident memory of processes on a timer: `peak` of VmRSS and VmHWM over the whole run, and
 * `window()` ... `windowEnd()`: each process's VmRSS when the window opened (idle) and its
 * largest VmRSS inside the window.
 */
class RssSampler {
  constructor() {
    this.pids = new Map();
    this.peakKib = new Map();
    this.windowKib = null;
    this.timer = setInterval(() => this.sample(), RSS_SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }
  watch(name, pid) {
    if (pid) this.pids.set(name, pid);
    this.sample();
  }
  sample() {
    for (const [name, pid] of this.pids) {
      let text;
      try {
        text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      } catch {
        continue; // exited
      }
      for (const field of ['VmRSS', 'VmHWM']) {
        const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
        if (m) this.peakKib.set(name, Math.max(this.peakKib.get(name) ?? 0, Number(m[1])));
      }
      const w = this.windowKib?.get(name);
      if (w) w.peak = Math.max(w.peak, rssKibOf(pid) ?? 0);
    }
  }
  window(names) {
    this.windowKib = new Map(names.map((name) => {
      const idle = rssKibOf(this.pids.get(name)) ?? 0;
      return [name, { idle, peak: idle }];
    }));
  }
  windowEnd() {
    this.sample();
    const out = Object.fromEntries([...this.windowKib].map(([name, w]) => [name, { idle_mib: round(w.idle / 1024, 1), peak_mib: round(w.peak / 1024, 1), delta_mib: round((w.peak - w.idle) / 1024, 1) }]));
    this.windowKib = null;
    return out;
  }
  stop() {
    this.sample();
    clearInterval(this.timer);
    return Object.fromEntries([...this.pids.keys()].map((name) => [name, round((this.peakKib.get(name) ?? 0) / 1024, 1)]));
  }
}

/** libs/dtls/bench: one-way DTLS throughput with no HTTP, relay or transport on top. */
function dtlsCeiling() {
  const script = path.join(root, 'libs/dtls/dist/bench/dtls-bench.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env: { ...process.env, DTLS_BENCH_RECORDS: String(DTLS_RECORDS) }, stdio: ['ignore', 'pipe', 'inherit'] });
    reapOnExit(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`dtls bench exited ${code}`));
      try {
        const r = JSON.parse(out);
        resolve({ agent_to_hub_mb_per_s: Number(r.agent_to_hub.mb_per_s), hub_to_agent_mb_per_s: Number(r.hub_to_agent.mb_per_s), ping_pong_100b_p50_us: round(r.ping_pong_100b_us.p50, 1) });
      } catch (err) {
        reject(new Error(`dtls bench output: ${err.message}`));
      }
    });
  });
}

/** `fn()` with a CpuMeter around it: returns [fn's result, CPU ms per group]. */
async function withCpu(meter, fn) {
  meter.start();
  const result = await fn();
  return [result, meter.stop()];
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-bench-'));
const benchStarted = nowNs();
const rss = new RssSampler();
rss.watch('bench (load generator)', process.pid);
const origin = await startBenchOrigin();
rss.watch('origin', origin.child.pid);
let stack;
let ssh;
const proxies = [];
const dispatchers = [];
const results = { rows: [], details: {} };
try {
  // Hub and agent log at info (the harness reads their readiness lines); the ingress at warn,
  // so the per-request access log does not load this process, which also runs the load generator.
  stack = await Stack.start({
    dir,
    hubs: 1,
    logLevel: 'info',
    ingressLogLevel: 'warn',
    nodeArgs: process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(/\s+/).filter(Boolean) : undefined,
    hubEnv: { HOPGATE_AGENT_IDLE_TIMEOUT_MS: '15000', HOPGATE_SESSION_TTL_MS: '15000' },
    ingressEnv: { HOPGATE_RESPONSE_TIMEOUT_MS: String(TRANSFER_DEADLINE_MS) },
  });
  const services = { origin: `127.0.0.1:${origin.port}` };
  const token = await stack.addClient('bench');
  await stack.setRoute(HOST, '/', 'bench/origin');
  const agent = await stack.startAgent({ clientId: 'bench', token, services, extra: { idle_timeout_ms: 15000 } });
  // The lossy path: a second agent dials the hub through a UdpLossProxy; lossless until its
  // download, so the handshake is not what is measured.
  const lossProxy = await UdpLossProxy.start({ target: { host: '127.0.0.1', port: stack.hubs[0].port } });
  proxies.push(lossProxy);
  const lossyToken = await stack.addClient('bench-lossy');
  await stack.setRoute(LOSSY_HOST, '/', 'bench-lossy/origin');
  const lossyAgent = await stack.startAgent({ clientId: 'bench-lossy', token: lossyToken, services, serverPort: lossProxy.port, extra: { idle_timeout_ms: 15000 } });
  // The internet-sized path: a third agent through a proxy that drops every datagram above
  // PMTU_BYTES (as a router drops a packet too big for its next link), both ways, from the
  // handshake on; the transport's PMTU discovery (RFC 8899) must settle at or below it.
  const clamp = { maxPayloadBytes: PMTU_BYTES };
  const pmtuProxy = await UdpLossProxy.start({ target: { host: '127.0.0.1', port: stack.hubs[0].port }, upstream: clamp, downstream: clamp });
  proxies.push(pmtuProxy);
  const pmtuToken = await stack.addClient('bench-pmtu');
  await stack.setRoute(PMTU_HOST, '/', 'bench-pmtu/origin');
  const pmtuAgent = await stack.startAgent({ clientId: 'bench-pmtu', token: pmtuToken, services, serverPort: pmtuProxy.port, extra: { idle_timeout_ms: 15000 } });

  // The reference: ssh -R to the same origin, nginx with the ingress's certificate (same dev CA).
  ssh = await startSshTunnel({ originHost: '127.0.0.1', originPort: origin.port, certFile: stack.ingressCert.certFile, keyFile: stack.ingressCert.keyFile, nginxWorkers: NGINX_WORKERS });

  const pids = {
    ingress: stack.ingress.child.pid,
    'nats-server': stack.nats.process.pid,
    hub: stack.hubs[0].process.child.pid,
    agent: agent.child.pid,
  };
  rss.watch('https-ingress', pids.ingress);
  rss.watch('dtls-hub', pids.hub);
  rss.watch('agent', pids.agent);
  rss.watch('agent (lossy path)', lossyAgent.child.pid);
  rss.watch('agent (pmtu path)', pmtuAgent.child.pid);
  rss.watch('nats-server', pids['nats-server']);
  rss.watch('redis-server', stack.redis.process.pid);
  const hopgateCpu = new CpuMeter(Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, () => [pid]])));
  const sshCpu = new CpuMeter({ 'sshd+ssh+nginx': () => ssh.pids() });
  const bothCpu = async (fn) => {
    hopgateCpu.start();
    sshCpu.start();
    const result = await fn();
    return [result, { ...hopgateCpu.stop(), ...sshCpu.stop() }];
  };

  const ca = fs.readFileSync(stack.ca.certFile, 'utf8');
  const hopgateBase = `https://127.0.0.1:${stack.httpsPort}`;
  const sshBase = `https://127.0.0.1:${ssh.httpsPort}`;
  const directBase = `http://127.0.0.1:${origin.port}`;
  const newAgent = (options) => {
    const d = new Agent(options);
    dispatchers.push(d);
    return d;
  };
  const paths = {
    direct: { base: directBase, headers: {}, tls: {}, dispatcher: newAgent(), one: newAgent({ connections: 1 }), fresh: () => new Agent() },
    ssh: { base: sshBase, headers: { host: SSH_HOST }, tls: { servername: SSH_HOST, ca }, dispatcher: newAgent({ connect: { ca, servername: SSH_HOST } }), one: newAgent({ connections: 1, connect: { ca, servername: SSH_HOST } }), fresh: () => new Agent({ connect: { ca, servername: SSH_HOST } }) },
    hopgate: { base: hopgateBase, headers: { host: HOST }, tls: { servername: HOST, ca }, dispatcher: newAgent({ connect: { ca, servername: HOST } }), one: newAgent({ connections: 1, connect: { ca, servername: HOST } }), fresh: () => new Agent({ connect: { ca, servername: HOST } }) },
  };
  const lossyDispatcher = newAgent({ connect: { ca, servername: LOSSY_HOST } });
  const pmtuDispatcher = newAgent({ connect: { ca, servername: PMTU_HOST } });
  const digestOf = async (id) => (await request(`${directBase}/digest/${id}`, { dispatcher: paths.direct.dispatcher })).body.json();
  /** `fn(path)` for direct, ssh, hopgate in turn. */
  const each = async (fn) => ({ direct: await fn(paths.direct), ssh: await fn(paths.ssh), hopgate: await fn(paths.hopgate) });

  // Every path is warmed up first and measured in its steady state: V8 has optimized HopGate's
  // request path (nginx and sshd are native code) rather than running it in the JIT's first
  // tiers, which the c=1 loop's 200 warm-up requests do not get past.
  const load = (p, seconds = GET_DURATION_S) => getLoad(`${p.base}/1k`, { connections: GET_CONNECTIONS, seconds, headers: p.headers, ...p.tls });
  if (WARMUP_S > 0) {
    console.log(`warm-up: GET 1 KiB c=${GET_CONNECTIONS}, ${WARMUP_S} s a path ...`);
    await each((p) => load(p, WARMUP_S));
  }
  console.log(`GET 1 KiB c=${GET_CONNECTIONS} ...`);
  const high = { direct: await load(paths.direct) };
  [high.ssh, high.ssh_cpu_ms] = await withCpu(sshCpu, () => load(paths.ssh));
  [high.hopgate, high.hopgate_cpu_ms] = await withCpu(hopgateCpu, () => load(paths.hopgate));
  console.log('GET 1 KiB c=1 ...');
  const c1 = await each((p) => sequentialGet(`${p.base}/1k`, p.one, p.headers, C1_DURATION_S));
  console.log('SSE ...');
  const sseResult = await each((p) => sse(p.base, p.fresh, p.headers));
  console.log(`download ${DOWNLOAD_MIB} MiB, upload ${UPLOAD_MIB} MiB ...`);
  const down = { direct: await download(directBase, paths.direct.dispatcher, {}, DOWNLOAD_MIB * MIB, digestOf, TRANSFER_DEADLINE_MS) };
  [down.ssh, down.ssh_cpu_ms] = await withCpu(sshCpu, () => download(sshBase, paths.ssh.dispatcher, paths.ssh.headers, DOWNLOAD_MIB * MIB, digestOf, TRANSFER_DEADLINE_MS));
  rss.window(['https-ingress', 'dtls-hub', 'agent']);
  [down.hopgate, down.hopgate_cpu_ms] = await withCpu(hopgateCpu, () => download(hopgateBase, paths.hopgate.dispatcher, paths.hopgate.headers, DOWNLOAD_MIB * MIB, digestOf, TRANSFER_DEADLINE_MS));
  const transferRss = rss.windowEnd();
  const up = { direct: await upload(directBase, paths.direct.dispatcher, {}, UPLOAD_MIB * MIB, TRANSFER_DEADLINE_MS) };
  [up.ssh, up.ssh_cpu_ms] = await withCpu(sshCpu, () => upload(sshBase, paths.ssh.dispatcher, paths.ssh.headers, UPLOAD_MIB * MIB, TRANSFER_DEADLINE_MS));
  [up.hopgate, up.hopgate_cpu_ms] = await withCpu(hopgateCpu, () => upload(hopgateBase, paths.hopgate.dispatcher, paths.hopgate.headers, UPLOAD_MIB * MIB, TRANSFER_DEADLINE_MS));
  console.log(`download ${PMTU_MIB} MiB with ${PMTU_BYTES}-byte datagrams ...`);
  const pmtuDown = await download(hopgateBase, pmtuDispatcher, { host: PMTU_HOST }, PMTU_MIB * MIB, digestOf, TRANSFER_DEADLINE_MS);
  const pmtuStats = { ...pmtuProxy.stats };
  console.log(`download ${LOSS_MIB} MiB at ${LOSS_RATE * 100}% loss ...`);
  const impaired = { lossRate: LOSS_RATE, reorderRate: LOSS_RATE, reorderDelayMs: LOSS_REORDER_DELAY_MS };
  lossProxy.configure(impaired, impaired);
  const lossyDown = await download(hopgateBase, lossyDispatcher, { host: LOSSY_HOST }, LOSS_MIB * MIB, digestOf, TRANSFER_DEADLINE_MS);
  lossProxy.configure({}, {});
  const lossStats = { ...lossProxy.stats };
  console.log('DTLS-only ceiling ...');
  const dtls = await dtlsCeiling();
  const peakRssMib = rss.stop();

  // The stack and the ssh path stop before the idle-sessions and WAN runs, which start their own.
  await Promise.all(dispatchers.splice(0).map((d) => d.close().catch(() => undefined)));
  await ssh.stop();
  ssh = undefined;
  for (const proxy of proxies.splice(0)) await proxy.close();
  await stack.stop();
  stack = undefined;

  let idle = null;
  if (IDLE_SESSIONS > 0) {
    console.log(`${IDLE_SESSIONS} idle agent sessions on one hub ...`);
    idle = await measureIdleSessions({ count: IDLE_SESSIONS, idleSeconds: IDLE_SECONDS, openSeconds: IDLE_OPEN_S, loadProcesses: IDLE_LOAD_PROCESSES, handshakesInFlight: IDLE_HANDSHAKES_IN_FLIGHT, originPort: origin.port });
  }
  let wan = null;
  if (WAN) {
    console.log('WAN runs ...');
    wan = await runWan({ settings: wanSettingsFromEnv(), root });
  }

  const sseFirst = { direct: sseResult.direct.first_event_ms, ssh: sseResult.ssh.first_event_ms, hopgate: sseResult.hopgate.first_event_ms };
  const pick = (r, key) => ({ direct: r.direct[key], ssh: r.ssh[key], hopgate: r.hopgate[key] });
  const rows = [
    comparedRow('GET 1 KiB c=1 req/s', pick(c1, 'req_per_s')),
    comparedRow('GET 1 KiB c=1 p50 ms', pick(c1, 'p50_ms'), TARGETS.c1P50VsSshMax),
    comparedRow('GET 1 KiB c=1 p99 ms', pick(c1, 'p99_ms')),
    comparedRow('GET 1 KiB c=1 errors', pick(c1, 'errors')),
    comparedRow(`GET 1 KiB c=${GET_CONNECTIONS} req/s`, pick(high, 'req_per_s'), TARGETS.getHighVsSshMin),
    comparedRow(`GET 1 KiB c=${GET_CONNECTIONS} p50 ms`, pick(high, 'p50_ms')),
    comparedRow(`GET 1 KiB c=${GET_CONNECTIONS} p99 ms`, pick(high, 'p99_ms')),
    comparedRow(`GET 1 KiB c=${GET_CONNECTIONS} errors`, pick(high, 'errors')),
    comparedRow(`download ${DOWNLOAD_MIB} MiB MB/s`, pick(down, 'mb_per_s'), TARGETS.transferVsSshMin, !down.hopgate.cut),
    comparedRow('download sha256 ok', { direct: down.direct.cut ? 'cut' : down.direct.sha256_ok, ssh: down.ssh.cut ? 'cut' : down.ssh.sha256_ok, hopgate: down.hopgate.cut ? 'cut' : down.hopgate.sha256_ok }),
    comparedRow(`upload ${UPLOAD_MIB} MiB MB/s`, pick(up, 'mb_per_s'), TARGETS.transferVsSshMin),
    comparedRow('upload sha256 ok', pick(up, 'sha256_ok')),
    // The datagram-clamped row: HopGate through the PMTU_BYTES proxy against the same ssh download.
    comparedRow(`download ${PMTU_MIB} MiB, ${PMTU_BYTES}-byte datagrams MB/s`, { direct: down.direct.mb_per_s, ssh: down.ssh.mb_per_s, hopgate: pmtuDown.mb_per_s }, TARGETS.pmtuVsSshMin, !pmtuDown.cut && pmtuDown.sha256_ok === true),
    comparedRow('SSE first event ms (fresh connection)', sseFirst, TARGETS.sseFirstVsDirectMax),
    comparedRow(`SSE mean gap ms (${SSE_GAP_MS} sent)`, pick(sseResult, 'gap_mean_ms')),
    comparedRow('SSE max gap deviation ms', pick(sseResult, 'gap_max_dev_ms')),
    comparedRow('SSE max origin->client ms', pick(sseResult, 'transit_max_ms')),
    // The lossy row compares with the lossless HopGate download (in the direct column), not with the origin.
    comparedRow(`download ${LOSS_MIB} MiB at ${LOSS_RATE * 100}% loss MB/s (direct = lossless HopGate)`, { direct: down.hopgate.mb_per_s, ssh: null, hopgate: lossyDown.mb_per_s }, TARGETS.lossVsLosslessMin, !lossyDown.cut && lossyDown.sha256_ok === true),
    ...cpuRows(`CPU us/request, GET c=${GET_CONNECTIONS}`, high.hopgate_cpu_ms, high.ssh_cpu_ms, high.hopgate.requests, high.ssh.requests, 1000),
    ...cpuRows(`CPU ms/MiB, download`, down.hopgate_cpu_ms, down.ssh_cpu_ms, DOWNLOAD_MIB, DOWNLOAD_MIB, 1),
    ...cpuRows(`CPU ms/MiB, upload`, up.hopgate_cpu_ms, up.ssh_cpu_ms, UPLOAD_MIB, UPLOAD_MIB, 1),
    ...Object.entries(transferRss).map(([name, r]) => comparedRow(`RSS +MiB over idle (${r.idle_mib}) during the ${DOWNLOAD_MIB} MiB download: ${name}`, { direct: null, ssh: null, hopgate: r.delta_mib }, TARGETS.transferRssDeltaMibMax)),
    ...(idle
      ? [
          comparedRow(`idle sessions on one hub at the end (of ${idle.sessions_wanted})`, { direct: null, ssh: null, hopgate: idle.sessions_online }),
          comparedRow('idle sessions on one hub, peak while opening', { direct: null, ssh: null, hopgate: idle.sessions_peak_while_opening }),
          comparedRow('hub heap KiB per idle session (after GC)', { direct: null, ssh: null, hopgate: idle.hub_heap_kib_per_session }, TARGETS.idleHeapKibMax, idle.sessions_online > 0),
          comparedRow(`hub CPU ms per s, ${idle.sessions_online} idle sessions`, { direct: null, ssh: null, hopgate: idle.hub_cpu_ms_per_s_idle }),
        ]
      : []),
    comparedRow('DTLS-only ceiling agent->hub MB/s', { direct: null, ssh: null, hopgate: dtls.agent_to_hub_mb_per_s }),
    comparedRow('DTLS-only ceiling hub->agent MB/s', { direct: null, ssh: null, hopgate: dtls.hub_to_agent_mb_per_s }),
  ];
  printTable(rows);
  if ([down.ssh, down.hopgate, pmtuDown, lossyDown].some((d) => d.cut)) console.log(`note: a transfer hit the ${TRANSFER_DEADLINE_MS / 1000} s deadline; its MB/s is over the bytes it moved`);
  console.log(`lossy path datagrams: ${JSON.stringify(lossStats)}`);
  console.log(`${PMTU_BYTES}-byte path datagrams: ${JSON.stringify(pmtuStats)}`);
  if (idle && idle.sessions_online < idle.sessions_peak_while_opening) {
    console.log(`note: idle sessions dropped (peak ${idle.sessions_peak_while_opening}, ${idle.sessions_online} at the end; longest event-loop stall: load processes ${idle.load_event_loop_stall_max_ms} ms, hub ${idle.hub_event_loop_lag_max_ms_while_opening} ms): the hub's idle CPU includes the dropped agents' reconnect attempts`);
  }
  if (wan) wanTable(wan);
  console.log('\npeak RSS MiB');
  for (const [name, mib] of Object.entries(peakRssMib)) console.log(`  ${name.padEnd(24)} ${String(mib).padStart(8)}`);
  const withTargets = [...rows, ...(wan?.rows ?? [])].filter((r) => r.met !== undefined);
  const totalS = round(msSince(benchStarted) / 1e3, 1);
  console.log(`\ntargets met: ${withTargets.filter((r) => r.met).length}/${withTargets.length}; run took ${totalS} s`);

  const out = path.join(root, 'bench', 'results');
  fs.mkdirSync(out, { recursive: true });
  const date = new Date().toISOString();
  const file = path.join(out, `${date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify(
      {
        date,
        node: process.version,
        cpus: os.cpus().length,
        loadavg: os.loadavg(),
        seconds: totalS,
        targets: TARGETS,
        knobs: { GET_DURATION_S, C1_DURATION_S, GET_CONNECTIONS, DOWNLOAD_MIB, UPLOAD_MIB, PMTU_MIB, PMTU_BYTES, LOSS_MIB, LOSS_RATE, NGINX_WORKERS, IDLE_SESSIONS, IDLE_SECONDS, IDLE_OPEN_S, IDLE_LOAD_PROCESSES, IDLE_HANDSHAKES_IN_FLIGHT, WAN },
        rows,
        details: {
          get_c1: c1,
          [`get_c${GET_CONNECTIONS}`]: high,
          download: { ...down, transfer_rss: transferRss },
          upload: up,
          pmtu_download: { bytes_limit: PMTU_BYTES, ...pmtuDown, datagrams: pmtuStats },
          lossy_download: { loss_rate: LOSS_RATE, ...lossyDown, datagrams: lossStats },
          sse: sseResult,
          dtls_ceiling: dtls,
          idle_sessions: idle,
          wan,
        },
        peak_rss_mib: peakRssMib,
      },
      null,
      2,
    ),
  );
  console.log(`saved ${path.relative(process.cwd(), file)}`);
} finally {
  rss.stop();
  await Promise.all(dispatchers.map((d) => d.close().catch(() => undefined)));
  await ssh?.stop();
  for (const proxy of proxies) await proxy.close();
  await stack?.stop();
  origin.child.kill('SIGTERM');
  if (process.env.BENCH_KEEP_DIR) console.log(`logs kept in ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
