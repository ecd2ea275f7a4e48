// Profiles one HopGate path: a Stack (ingress, one hub, one agent) in front of the bench origin,
// then one workload, with the CPU time of each process and (PROFILE_CPU=1) a V8 CPU profile of
// each service process (node --cpu-prof) written to PROFILE_DIR.
//   node scripts/bench/profile.mjs download|upload|get1|get64 [MiB or seconds]
//   PROFILE_DATAGRAM_BYTES=1452: hub <-> agent through a UdpLossProxy capping datagrams at that size.
// Not part of `npm run bench`: a tool for finding the next cost to cut.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Agent } from 'undici';
import { Stack, UdpLossProxy } from '../../libs/testkit/dist/src/index.js';
import { download, upload, sequentialGet, getLoad } from './measure.mjs';
import { cpuMsOf, startBenchOrigin } from './processes.mjs';

const MIB = 1024 * 1024;
const HOST = 'bench.hopgate.test';
const [workload = 'download', amountArg] = process.argv.slice(2);
const profileDir = process.env.PROFILE_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'hg-prof-'));
fs.mkdirSync(profileDir, { recursive: true });
const nodeArgs = [...(process.env.PROFILE_CPU === '1' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...(process.env.PROFILE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];

const origin = await startBenchOrigin();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hg-prof-stack-'));
console.error(`stack folder: ${dir}`);
const stack = await Stack.start({
  dir,
  hubs: 1,
  logLevel: 'info',
  ingressLogLevel: process.env.PROFILE_INGRESS_LOG ?? 'warn',
  nodeArgs,
  ingressEnv: { HOPGATE_RESPONSE_TIMEOUT_MS: '600000', ...(process.env.PROFILE_SERVER_TIMING ? { HOPGATE_SERVER_TIMING: 'true' } : {}) },
});
let code = 0;
let proxy = null;
try {
  const token = await stack.addClient('bench');
  await stack.setRoute(HOST, '/', 'bench/origin');
  // PROFILE_DATAGRAM_BYTES=1452: the agent dials the hub through a UdpLossProxy that drops UDP
  // payloads above that size in both directions (an internet path, MTU 1500), so PMTU discovery
  // settles below it, as the bench's 1,452-byte row does.
  const clampBytes = Number(process.env.PROFILE_DATAGRAM_BYTES ?? 0);
  const clamp = { maxPayloadBytes: clampBytes };
  proxy = clampBytes > 0 ? await UdpLossProxy.start({ target: { host: '127.0.0.1', port: stack.hubs[0].port }, upstream: clamp, downstream: clamp }) : null;
  const agent = await stack.startAgent({ clientId: 'bench', token, services: { origin: `127.0.0.1:${origin.port}` }, ...(proxy ? { serverPort: proxy.port, extra: { idle_timeout_ms: 15000 } } : {}) });
  const ca = fs.readFileSync(stack.ca.certFile, 'utf8');
  const base = `https://127.0.0.1:${stack.httpsPort}`;
  const dispatcher = new Agent({ connect: { ca, servername: HOST } });
  const pids = { ingress: stack.ingress.child.pid, nats: stack.nats.process.pid, hub: stack.hubs[0].process.child.pid, agent: agent.child.pid };
  // Warm up (JIT), then measure.
  await download(base, dispatcher, { host: HOST }, 20 * MIB, null);
  // PROFILE_WARM_S: seconds of GET c=64 first, so V8 has optimized the request path.
  if (process.env.PROFILE_WARM_S) await getLoad(`${base}/1k`, { connections: 64, seconds: Number(process.env.PROFILE_WARM_S), headers: { host: HOST }, servername: HOST, ca });
  // PROFILE_STRACE=1: syscall counts of every process during the measurement (strace -c).
  const straces = process.env.PROFILE_STRACE === '1'
    ? Object.entries(pids).map(([k, p]) => ({ name: k, child: spawn('strace', ['-c', '-f', '-p', String(p), '-o', path.join(profileDir, `strace-${k}.txt`)], { stdio: 'ignore' }) }))
    : [];
  // PROFILE_PERF=1: a system-wide perf record (software cpu-clock) during the measurement.
  if (process.env.PROFILE_PERF === '1') straces.push({ name: 'perf', child: spawn('perf', ['record', '-e', 'cpu-clock', '-a', '-g', '-o', path.join(profileDir, 'perf.data')], { stdio: 'ignore' }) });
  if (straces.length) await new Promise((r) => setTimeout(r, 1000));
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMsOf(p)]));
  // This process: the load client (undici over TLS) and, with PROFILE_DATAGRAM_BYTES, the UDP proxy.
  const selfBefore = process.cpuUsage();
  const t0 = performance.now();
  let result;
  let units;
  if (workload === 'download') {
    const mib = Number(amountArg ?? 300);
    result = await download(base, dispatcher, { host: HOST }, mib * MIB, null);
    units = { per: 'MiB', n: mib };
  } else if (workload === 'upload') {
    const mib = Number(amountArg ?? 100);
    result = await upload(base, dispatcher, { host: HOST }, mib * MIB);
    units = { per: 'MiB', n: mib };
  } else if (workload === 'get1') {
    const one = new Agent({ connections: 1, connect: { ca, servername: HOST } });
    result = await sequentialGet(`${base}/1k`, one, { host: HOST }, Number(amountArg ?? 8));
    units = { per: 'request', n: null };
  } else if (workload === 'get64') {
    result = await getLoad(`${base}/1k`, { connections: 64, seconds: Number(amountArg ?? 8), headers: { host: HOST }, servername: HOST, ca });
    units = { per: 'request', n: result.requests };
  } else if (workload === 'idle') {
    const seconds = Number(amountArg ?? 5);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    result = { req_per_s: 1 };
    units = { per: 'request', n: seconds };
  } else throw new Error(`unknown workload ${workload}`);
  const wallMs = performance.now() - t0;
  for (const s of straces) s.child.kill('SIGINT');
  await Promise.all(straces.map((s) => new Promise((r) => s.child.once('exit', r))));
  const cpu = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMsOf(p) - before[k]]));
  const self = process.cpuUsage(selfBefore);
  cpu[proxy ? 'client_and_proxy' : 'client'] = Math.round((self.user + self.system) / 1000);
  const n = units.n ?? Math.round((result.req_per_s * wallMs) / 1000);
  const perUnit = Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, +((units.per === 'MiB' ? ms : ms * 1000) / n).toFixed(2)]));
  console.log(JSON.stringify({ workload, result, wall_ms: Math.round(wallMs), cpu_ms: cpu, [units.per === 'MiB' ? 'cpu_ms_per_MiB' : 'cpu_us_per_request']: perUnit, profile_dir: nodeArgs.length ? profileDir : null }, null, 1));
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  await stack.stop();
  await proxy?.close();
  origin.child.kill();
}
process.exit(code);
