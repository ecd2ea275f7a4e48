// See scripts/bench.sh. Not a test: figures, printed as a table and saved as JSON in
// bench/results/<timestamp>.json. Every figure is measured in the same run against the origin
// directly (direct) and through the whole path (tunnel: ingress -> NATS -> hub -> DTLS -> agent).
//
// Knobs (env, all optional): BENCH_GET_DURATION_S, BENCH_C1_DURATION_S, BENCH_GET_CONNECTIONS,
// BENCH_DOWNLOAD_MIB, BENCH_UPLOAD_MIB, BENCH_LOSS_MIB, BENCH_LOSS_RATE, BENCH_DTLS_RECORDS,
// BENCH_NODE_ARGS (extra node arguments for the services, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"),
// BENCH_KEEP_DIR=1 (keep the stack's folder with its logs).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import autocannon from 'autocannon';
import { Stack, UdpLossProxy, reapOnExit } from '../libs/testkit/dist/src/index.js';
import { envNumber } from './bench-env.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Duration of each autocannon GET run (direct and tunnel), in seconds. */
const GET_DURATION_S = envNumber('BENCH_GET_DURATION_S', 8);
/** Duration of each sequential c=1 GET loop, in seconds. */
const C1_DURATION_S = envNumber('BENCH_C1_DURATION_S', 4);
/** Connections of the loaded GET run. */
const GET_CONNECTIONS = envNumber('BENCH_GET_CONNECTIONS', 64);
/** Requests sent before each c=1 loop starts timing (connection set-up, JIT). */
const C1_WARMUP_REQUESTS = 200;
const DOWNLOAD_MIB = envNumber('BENCH_DOWNLOAD_MIB', 200);
const UPLOAD_MIB = envNumber('BENCH_UPLOAD_MIB', 50);
/** Size of the download through the lossy path. */
const LOSS_MIB = envNumber('BENCH_LOSS_MIB', 50);
/** Datagram loss rate each way on the lossy path; the same rate of datagrams is reordered. */
const LOSS_RATE = envNumber('BENCH_LOSS_RATE', 0.02);
/** How long a reordered datagram is held back on the lossy path, in ms. */
const LOSS_REORDER_DELAY_MS = 3;
/** A transfer still running after this long is cut and reported on the bytes it moved, in ms. */
const TRANSFER_DEADLINE_MS = 45_000;
/** Upload chunk size in bytes. */
const UPLOAD_CHUNK_BYTES = 64 * 1024;
const SSE_EVENTS = 10;
/** Origin-side spacing of the SSE events, in ms. */
const SSE_GAP_MS = 50;
/** SSE streams per side; the median first-event time is reported. */
const SSE_RUNS = 3;
/** Records per direction of the DTLS-only ceiling (libs/dtls/bench). */
const DTLS_RECORDS = envNumber('BENCH_DTLS_RECORDS', 30_000);
/** Period of the /proc/<pid>/status RSS sampler, in ms. */
const RSS_SAMPLE_INTERVAL_MS = 100;
const MIB = 1024 * 1024;
const HOST = 'bench.hopgate.test';
const LOSSY_HOST = 'lossy.hopgate.test';

/** Targets: tunnel/direct ratios (or absolute figures), each printed as met / not met. */
const TARGETS = {
  getHighRatioMin: 0.15,
  transferRatioMin: 0.08,
  c1P50RatioMax: 6,
  sseFirstEventMsMax: 5,
  lossRatioMin: 0.5,
};

function startOrigin() {
  const child = spawn(process.execPath, [path.join(root, 'scripts/bench-origin.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  reapOnExit(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench origin exited (${code})`)));
    child.stdout.once('data', (d) => resolve({ child, port: Number(String(d).trim()) }));
  });
}

const nowNs = () => process.hrtime.bigint();
const msSince = (t0) => Number(nowNs() - t0) / 1e6;
const round = (n, digits = 3) => (Number.isFinite(n) ? +n.toFixed(digits) : null);

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Peak RSS of processes, from VmRSS and VmHWM in /proc/<pid>/status, sampled on a timer. */
class RssSampler {
  constructor() {
    this.pids = new Map();
    this.peakKib = new Map();
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
    }
  }
  stop() {
    this.sample();
    clearInterval(this.timer);
    return Object.fromEntries([...this.pids.keys()].map((name) => [name, round((this.peakKib.get(name) ?? 0) / 1024, 1)]));
  }
}

/** autocannon at GET_CONNECTIONS (latency in whole ms, as autocannon reports it). */
async function getLoad(url, extra) {
  const result = await autocannon({ url, connections: GET_CONNECTIONS, duration: GET_DURATION_S, pipelining: 1, ...extra });
  return {
    req_per_s: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

/** One connection, one request at a time, timed with hrtime (sub-ms latency). */
async function sequentialGet(url, dispatcher, headers) {
  let errors = 0;
  const one = async () => {
    const t0 = nowNs();
    try {
      const res = await request(url, { dispatcher, headers });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) errors += 1;
    } catch {
      errors += 1;
    }
    return msSince(t0);
  };
  for (let i = 0; i < C1_WARMUP_REQUESTS; i++) await one();
  errors = 0;
  const latencies = [];
  const started = nowNs();
  const until = started + BigInt(Math.round(C1_DURATION_S * 1e9));
  while (nowNs() < until) latencies.push(await one());
  const seconds = msSince(started) / 1e3;
  latencies.sort((a, b) => a - b);
  return {
    req_per_s: Math.round(latencies.length / seconds),
    p50_ms: round(percentile(latencies, 0.5)),
    p99_ms: round(percentile(latencies, 0.99)),
    errors,
  };
}

/** Reads the body until `bytes` or the deadline; checks sha256 against what the origin sent. */
async function download(base, dispatcher, headers, bytes, digestOf) {
  const id = crypto.randomUUID();
  const hash = crypto.createHash('sha256');
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), TRANSFER_DEADLINE_MS);
  const started = nowNs();
  let got = 0;
  let cut = false;
  try {
    const res = await request(`${base}/bytes/${bytes}?id=${id}`, { dispatcher, headers, signal: controller.signal, bodyTimeout: TRANSFER_DEADLINE_MS });
    if (res.statusCode !== 200) throw new Error(`download status ${res.statusCode}`);
    for await (const c of res.body) {
      got += c.length;
      hash.update(c);
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    cut = true;
  } finally {
    clearTimeout(deadline);
  }
  const s = msSince(started) / 1e3;
  let sha256_ok = null;
  if (!cut) {
    if (got !== bytes) throw new Error(`download short: ${got}/${bytes}`);
    const sent = await digestOf(id);
    sha256_ok = sent.bytes === bytes && sent.sha256 === hash.digest('hex');
  }
  return { mb_per_s: round(got / 1e6 / s, 1), seconds: round(s, 2), bytes: got, cut, sha256_ok };
}

async function upload(base, dispatcher, headers, bytes) {
  const chunk = crypto.randomBytes(UPLOAD_CHUNK_BYTES);
  const hash = crypto.createHash('sha256');
  async function* body() {
    for (let sent = 0; sent < bytes; sent += chunk.length) {
      const part = bytes - sent >= chunk.length ? chunk : chunk.subarray(0, bytes - sent);
      hash.update(part);
      yield part;
    }
  }
  const started = nowNs();
  const res = await request(`${base}/sink`, {
    method: 'POST',
    body: body(),
    dispatcher,
    headers: { ...headers, 'content-length': String(bytes) },
    bodyTimeout: TRANSFER_DEADLINE_MS,
    headersTimeout: TRANSFER_DEADLINE_MS,
  });
  const reply = await res.body.json();
  const s = msSince(started) / 1e3;
  if (reply.bytes !== bytes) throw new Error(`upload short: ${reply.bytes}/${bytes}`);
  return { mb_per_s: round(bytes / 1e6 / s, 1), seconds: round(s, 2), sha256_ok: reply.sha256 === hash.digest('hex') };
}

/** One SSE stream: first-event time from the request, event spacing at the client, transit. */
async function sseOnce(base, dispatcher, headers) {
  const t0 = nowNs();
  const res = await request(`${base}/sse?events=${SSE_EVENTS}&gap_ms=${SSE_GAP_MS}`, { dispatcher, headers });
  if (res.statusCode !== 200) throw new Error(`sse status ${res.statusCode}`);
  const arrivals = [];
  const transitMs = [];
  let text = '';
  for await (const c of res.body) {
    const at = nowNs();
    text += c.toString('utf8');
    let end;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const event = text.slice(0, end);
      text = text.slice(end + 2);
      const data = /^data: (\d+)$/m.exec(event);
      if (!data) continue;
      arrivals.push(at);
      transitMs.push(Number(at - BigInt(data[1])) / 1e6);
    }
  }
  if (arrivals.length !== SSE_EVENTS) throw new Error(`sse: ${arrivals.length}/${SSE_EVENTS} events`);
  const gaps = arrivals.slice(1).map((a, i) => Number(a - arrivals[i]) / 1e6);
  return {
    first_event_ms: Number(arrivals[0] - t0) / 1e6,
    gap_mean_ms: gaps.reduce((a, b) => a + b, 0) / gaps.length,
    gap_max_dev_ms: Math.max(...gaps.map((g) => Math.abs(g - SSE_GAP_MS))),
    transit_max_ms: Math.max(...transitMs),
  };
}

async function sse(base, dispatcher, headers) {
  const runs = [];
  for (let i = 0; i < SSE_RUNS; i++) runs.push(await sseOnce(base, dispatcher, headers));
  const median = (key) => runs.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  return {
    first_event_ms: round(median('first_event_ms')),
    gap_mean_ms: round(median('gap_mean_ms')),
    gap_max_dev_ms: round(Math.max(...runs.map((r) => r.gap_max_dev_ms))),
    transit_max_ms: round(Math.max(...runs.map((r) => r.transit_max_ms))),
  };
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

function printTable(rows) {
  const cols = [
    ['metric', (r) => r.name, 'padEnd'],
    ['direct', (r) => (r.direct ?? '-'), 'padStart'],
    ['tunnel', (r) => (r.tunnel ?? '-'), 'padStart'],
    ['ratio', (r) => (r.ratio ?? '-'), 'padStart'],
    ['target', (r) => r.target ?? '', 'padEnd'],
    ['', (r) => (r.met === undefined ? '' : r.met ? 'met' : 'NOT MET'), 'padEnd'],
  ];
  const cells = rows.map((r) => cols.map(([, get]) => String(get(r))));
  const widths = cols.map(([title], i) => Math.max(title.length, ...cells.map((c) => c[i].length)));
  const line = (values) => values.map((v, i) => v[cols[i][2]](widths[i])).join('  ').trimEnd();
  console.log(`\n${line(cols.map(([title]) => title))}`);
  for (const c of cells) console.log(line(c));
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-bench-'));
const benchStarted = nowNs();
const rss = new RssSampler();
rss.watch('bench (load generator)', process.pid);
const origin = await startOrigin();
rss.watch('origin', origin.child.pid);
let stack;
let proxy;
const dispatchers = [];
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
  });
  const services = { origin: `127.0.0.1:${origin.port}` };
  const token = await stack.addClient('bench');
  await stack.setRoute(HOST, '/', 'bench/origin');
  const agent = await stack.startAgent({ clientId: 'bench', token, services, extra: { idle_timeout_ms: 15000 } });
  // The lossy path: a second agent dials the hub through a UdpLossProxy; lossless until its
  // download, so the handshake is not what is measured.
  proxy = await UdpLossProxy.start({ target: { host: '127.0.0.1', port: stack.hubs[0].port } });
  const lossyToken = await stack.addClient('bench-lossy');
  await stack.setRoute(LOSSY_HOST, '/', 'bench-lossy/origin');
  const lossyAgent = await stack.startAgent({ clientId: 'bench-lossy', token: lossyToken, services, serverPort: proxy.port, extra: { idle_timeout_ms: 15000 } });
  rss.watch('https-ingress', stack.ingress.child.pid);
  rss.watch('dtls-hub', stack.hubs[0].process.child.pid);
  rss.watch('agent', agent.child.pid);
  rss.watch('agent (lossy path)', lossyAgent.child.pid);
  rss.watch('nats-server', stack.nats.process.pid);
  rss.watch('redis-server', stack.redis.process.pid);

  const ca = fs.readFileSync(stack.ca.certFile, 'utf8');
  const tunnelBase = `https://127.0.0.1:${stack.httpsPort}`;
  const directBase = `http://127.0.0.1:${origin.port}`;
  const newAgent = (options) => {
    const d = new Agent(options);
    dispatchers.push(d);
    return d;
  };
  const tunnelDispatcher = newAgent({ connect: { ca, servername: HOST } });
  const lossyDispatcher = newAgent({ connect: { ca, servername: LOSSY_HOST } });
  const directDispatcher = newAgent();
  const tunnelOne = newAgent({ connections: 1, connect: { ca, servername: HOST } });
  const directOne = newAgent({ connections: 1 });
  const tunnelHeaders = { host: HOST };
  const digestOf = async (id) => (await request(`${directBase}/digest/${id}`, { dispatcher: directDispatcher })).body.json();

  console.log('GET 1 KiB c=1 ...');
  const directC1 = await sequentialGet(`${directBase}/1k`, directOne, {});
  const tunnelC1 = await sequentialGet(`${tunnelBase}/1k`, tunnelOne, tunnelHeaders);
  console.log(`GET 1 KiB c=${GET_CONNECTIONS} ...`);
  const directHigh = await getLoad(`${directBase}/1k`);
  const tunnelHigh = await getLoad(`${tunnelBase}/1k`, { headers: tunnelHeaders, servername: HOST, tlsOptions: { ca, servername: HOST } });
  console.log('SSE ...');
  const directSse = await sse(directBase, directDispatcher, {});
  const tunnelSse = await sse(tunnelBase, tunnelDispatcher, tunnelHeaders);
  console.log(`download ${DOWNLOAD_MIB} MiB, upload ${UPLOAD_MIB} MiB ...`);
  const directDown = await download(directBase, directDispatcher, {}, DOWNLOAD_MIB * MIB, digestOf);
  const tunnelDown = await download(tunnelBase, tunnelDispatcher, tunnelHeaders, DOWNLOAD_MIB * MIB, digestOf);
  const directUp = await upload(directBase, directDispatcher, {}, UPLOAD_MIB * MIB);
  const tunnelUp = await upload(tunnelBase, tunnelDispatcher, tunnelHeaders, UPLOAD_MIB * MIB);
  console.log(`download ${LOSS_MIB} MiB at ${LOSS_RATE * 100}% loss ...`);
  const impaired = { lossRate: LOSS_RATE, reorderRate: LOSS_RATE, reorderDelayMs: LOSS_REORDER_DELAY_MS };
  proxy.configure(impaired, impaired);
  const lossyDown = await download(tunnelBase, lossyDispatcher, { host: LOSSY_HOST }, LOSS_MIB * MIB, digestOf);
  proxy.configure({}, {});
  const lossStats = { ...proxy.stats };
  console.log('DTLS-only ceiling ...');
  const dtls = await dtlsCeiling();

  const ratio = (tunnel, direct) => (typeof direct === 'number' && typeof tunnel === 'number' && direct ? round(tunnel / direct) : null);
  const row = (name, direct, tunnel, extra = {}) => ({ name, direct, tunnel, ratio: ratio(tunnel, direct), ...extra });
  const withTarget = (r, target, met) => ({ ...r, target, met });
  const c1Ratio = ratio(tunnelC1.p50_ms, directC1.p50_ms);
  const highRatio = ratio(tunnelHigh.req_per_s, directHigh.req_per_s);
  const downRatio = ratio(tunnelDown.mb_per_s, directDown.mb_per_s);
  const upRatio = ratio(tunnelUp.mb_per_s, directUp.mb_per_s);
  const lossRatio = ratio(lossyDown.mb_per_s, tunnelDown.mb_per_s);
  const rows = [
    row('GET 1 KiB c=1 req/s', directC1.req_per_s, tunnelC1.req_per_s),
    withTarget(row('GET 1 KiB c=1 p50 ms', directC1.p50_ms, tunnelC1.p50_ms), `ratio <= ${TARGETS.c1P50RatioMax}`, c1Ratio !== null && c1Ratio <= TARGETS.c1P50RatioMax),
    row('GET 1 KiB c=1 p99 ms', directC1.p99_ms, tunnelC1.p99_ms),
    row('GET 1 KiB c=1 errors', directC1.errors, tunnelC1.errors),
    withTarget(row(`GET 1 KiB c=${GET_CONNECTIONS} req/s`, directHigh.req_per_s, tunnelHigh.req_per_s), `ratio >= ${TARGETS.getHighRatioMin}`, highRatio !== null && highRatio >= TARGETS.getHighRatioMin),
    row(`GET 1 KiB c=${GET_CONNECTIONS} p50 ms`, directHigh.p50_ms, tunnelHigh.p50_ms),
    row(`GET 1 KiB c=${GET_CONNECTIONS} p99 ms`, directHigh.p99_ms, tunnelHigh.p99_ms),
    row(`GET 1 KiB c=${GET_CONNECTIONS} errors`, directHigh.errors, tunnelHigh.errors),
    withTarget(row(`download ${DOWNLOAD_MIB} MiB MB/s`, directDown.mb_per_s, tunnelDown.mb_per_s), `ratio >= ${TARGETS.transferRatioMin}`, downRatio !== null && downRatio >= TARGETS.transferRatioMin && !tunnelDown.cut),
    row(`download sha256 ok`, directDown.cut ? 'cut' : directDown.sha256_ok, tunnelDown.cut ? 'cut' : tunnelDown.sha256_ok),
    withTarget(row(`upload ${UPLOAD_MIB} MiB MB/s`, directUp.mb_per_s, tunnelUp.mb_per_s), `ratio >= ${TARGETS.transferRatioMin}`, upRatio !== null && upRatio >= TARGETS.transferRatioMin),
    row(`upload sha256 ok`, directUp.sha256_ok, tunnelUp.sha256_ok),
    withTarget(row('SSE first event ms', directSse.first_event_ms, tunnelSse.first_event_ms), `tunnel <= ${TARGETS.sseFirstEventMsMax} ms`, tunnelSse.first_event_ms <= TARGETS.sseFirstEventMsMax),
    row(`SSE mean gap ms (${SSE_GAP_MS} sent)`, directSse.gap_mean_ms, tunnelSse.gap_mean_ms),
    row('SSE max gap deviation ms', directSse.gap_max_dev_ms, tunnelSse.gap_max_dev_ms),
    row('SSE max origin->client ms', directSse.transit_max_ms, tunnelSse.transit_max_ms),
    // The lossy row compares with the lossless tunnel download, not with the origin.
    withTarget(
      { name: `download ${LOSS_MIB} MiB at ${LOSS_RATE * 100}% loss MB/s (direct = lossless tunnel)`, direct: tunnelDown.mb_per_s, tunnel: lossyDown.mb_per_s, ratio: lossRatio },
      `ratio >= ${TARGETS.lossRatioMin}`,
      lossRatio !== null && lossRatio >= TARGETS.lossRatioMin && !lossyDown.cut && lossyDown.sha256_ok === true,
    ),
    { name: 'DTLS-only ceiling agent->hub MB/s', direct: null, tunnel: dtls.agent_to_hub_mb_per_s, ratio: null },
    { name: 'DTLS-only ceiling hub->agent MB/s', direct: null, tunnel: dtls.hub_to_agent_mb_per_s, ratio: null },
  ];
  const peakRssMib = rss.stop();
  printTable(rows);
  if (tunnelDown.cut || lossyDown.cut) console.log(`note: a transfer hit the ${TRANSFER_DEADLINE_MS / 1000} s deadline; its MB/s is over the bytes it moved`);
  console.log(`lossy path datagrams: ${JSON.stringify(lossStats)}`);
  console.log('\npeak RSS MiB');
  for (const [name, mib] of Object.entries(peakRssMib)) console.log(`  ${name.padEnd(24)} ${String(mib).padStart(8)}`);
  const totalS = round(msSince(benchStarted) / 1e3, 1);
  console.log(`\ntargets met: ${rows.filter((r) => r.met).length}/${rows.filter((r) => r.met !== undefined).length}; run took ${totalS} s`);

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
        rows,
        details: {
          get_c1: { direct: directC1, tunnel: tunnelC1 },
          [`get_c${GET_CONNECTIONS}`]: { direct: directHigh, tunnel: tunnelHigh },
          download: { direct: directDown, tunnel: tunnelDown, lossy: lossyDown, loss_rate: LOSS_RATE, lossy_datagrams: lossStats },
          upload: { direct: directUp, tunnel: tunnelUp },
          sse: { direct: directSse, tunnel: tunnelSse },
          dtls_ceiling: dtls,
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
  await proxy?.close();
  await stack?.stop();
  origin.child.kill('SIGTERM');
  if (process.env.BENCH_KEEP_DIR) console.log(`logs kept in ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
