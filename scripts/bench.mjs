// See scripts/bench.sh. Not a test: figures, printed and saved as JSON.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import autocannon from 'autocannon';
import { Stack, reapOnExit } from '../libs/testkit/dist/src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GET_DURATION_S = Number(process.env.BENCH_GET_DURATION_S ?? 10);
const GET_CONNECTIONS = Number(process.env.BENCH_GET_CONNECTIONS ?? 32);
const TRANSFER_MIB = Number(process.env.BENCH_TRANSFER_MIB ?? 100);
const HOST = 'bench.hopgate.test';

function startOrigin() {
  const child = spawn(process.execPath, [path.join(root, 'scripts/bench-origin.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  reapOnExit(child);
  return new Promise((resolve) => child.stdout.once('data', (d) => resolve({ child, port: Number(String(d).trim()) })));
}

async function getLoad(url, extra) {
  const result = await autocannon({ url, connections: GET_CONNECTIONS, duration: GET_DURATION_S, pipelining: 1, ...extra });
  return {
    req_per_s: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

async function download(origin, dispatcher, headers) {
  const bytes = TRANSFER_MIB * 1024 * 1024;
  const started = process.hrtime.bigint();
  const res = await request(`${origin}/bytes/${bytes}`, { dispatcher, headers });
  let got = 0;
  for await (const c of res.body) got += c.length;
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  if (got !== bytes) throw new Error(`download short: ${got}/${bytes}`);
  return { mb_per_s: +(bytes / 1e6 / s).toFixed(1), seconds: +s.toFixed(2) };
}

async function upload(origin, dispatcher, headers) {
  const bytes = TRANSFER_MIB * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 'z');
  async function* body() {
    for (let sent = 0; sent < bytes; sent += chunk.length) yield chunk;
  }
  const started = process.hrtime.bigint();
  const res = await request(`${origin}/sink`, { method: 'POST', body: body(), dispatcher, headers: { ...headers, 'content-length': String(bytes) } });
  const reply = await res.body.json();
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  if (reply.bytes !== bytes) throw new Error(`upload short: ${reply.bytes}/${bytes}`);
  return { mb_per_s: +(bytes / 1e6 / s).toFixed(1), seconds: +s.toFixed(2) };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-bench-'));
const origin = await startOrigin();
let stack;
try {
  // Hub and agent log at info (the harness reads their readiness lines); the ingress at warn,
  // so the per-request access log does not load this process, which also runs the load generator.
  stack = await Stack.start({
    dir,
    hubs: 1,
    logLevel: 'info',
    ingressLogLevel: 'warn',
    hubEnv: { HOPGATE_AGENT_IDLE_TIMEOUT_MS: '15000', HOPGATE_SESSION_TTL_MS: '15000' },
  });
  const token = await stack.addClient('bench');
  await stack.setRoute(HOST, '/', 'bench/origin');
  await stack.startAgent({ clientId: 'bench', token, services: { origin: `127.0.0.1:${origin.port}` }, extra: { idle_timeout_ms: 15000 } });
  const ca = fs.readFileSync(stack.ca.certFile, 'utf8');
  const tunnelOrigin = `https://127.0.0.1:${stack.httpsPort}`;
  const directOrigin = `http://127.0.0.1:${origin.port}`;
  const tunnelDispatcher = new Agent({ connect: { ca, servername: HOST } });
  const directDispatcher = new Agent();
  const rows = [];
  const direct1k = await getLoad(`${directOrigin}/1k`);
  const tunnel1k = await getLoad(`${tunnelOrigin}/1k`, { headers: { host: HOST }, servername: HOST, tlsOptions: { ca, servername: HOST } });
  rows.push({ name: `GET 1 KiB c=${GET_CONNECTIONS} req/s`, direct: direct1k.req_per_s, tunnel: tunnel1k.req_per_s });
  rows.push({ name: `GET 1 KiB c=${GET_CONNECTIONS} p50 ms`, direct: direct1k.p50_ms, tunnel: tunnel1k.p50_ms });
  rows.push({ name: `GET 1 KiB c=${GET_CONNECTIONS} p99 ms`, direct: direct1k.p99_ms, tunnel: tunnel1k.p99_ms });
  const dDown = await download(directOrigin, directDispatcher, {});
  const tDown = await download(tunnelOrigin, tunnelDispatcher, { host: HOST });
  rows.push({ name: `download ${TRANSFER_MIB} MiB MB/s`, direct: dDown.mb_per_s, tunnel: tDown.mb_per_s });
  const dUp = await upload(directOrigin, directDispatcher, {});
  const tUp = await upload(tunnelOrigin, tunnelDispatcher, { host: HOST });
  rows.push({ name: `upload ${TRANSFER_MIB} MiB MB/s`, direct: dUp.mb_per_s, tunnel: tUp.mb_per_s });
  const errors = { direct_get: direct1k.errors, tunnel_get: tunnel1k.errors };
  for (const r of rows) r.ratio = r.direct ? +(r.tunnel / r.direct).toFixed(3) : null;
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`\n${'metric'.padEnd(w)}  ${'direct'.padStart(10)}  ${'tunnel'.padStart(10)}  ${'ratio'.padStart(7)}`);
  for (const r of rows) console.log(`${r.name.padEnd(w)}  ${String(r.direct).padStart(10)}  ${String(r.tunnel).padStart(10)}  ${String(r.ratio).padStart(7)}`);
  console.log(`errors: ${JSON.stringify(errors)}`);
  const out = path.join(root, 'bench', 'results');
  fs.mkdirSync(out, { recursive: true });
  const file = path.join(out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, rows, errors }, null, 2));
  console.log(`saved ${path.relative(process.cwd(), file)}`);
  await tunnelDispatcher.close();
  await directDispatcher.close();
} finally {
  await stack?.stop();
  origin.child.kill('SIGTERM');
}
