// Benchmark, not a test: the full path (ingress -> NATS -> hub -> DTLS -> agent -> origin)
// with a UdpLossProxy between agent and hub at several loss rates, same stack, same run.
// Usage: node scripts/bench-loss.mjs   (after a build)
// Env: BENCH_LOSS_MIB (default 32), BENCH_LOSS_RATES (default "0,0.02,0.05"),
//      BENCH_LOSS_REORDER_RATE (default 0), BENCH_LOSS_ROUNDS (default 1).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { Stack, UdpLossProxy } from '../libs/testkit/dist/src/index.js';
import { startBenchOrigin } from './bench/processes.mjs';

const TRANSFER_MIB = Number(process.env.BENCH_LOSS_MIB ?? 32);
const LOSS_RATES = (process.env.BENCH_LOSS_RATES ?? '0,0.02,0.05').split(',').map(Number);
const REORDER_RATE = Number(process.env.BENCH_LOSS_REORDER_RATE ?? 0);
const ROUNDS = Number(process.env.BENCH_LOSS_ROUNDS ?? 1);

async function download(origin, dispatcher, host) {
  const bytes = TRANSFER_MIB * 1024 * 1024;
  const started = process.hrtime.bigint();
  const res = await request(`${origin}/bytes/${bytes}`, { dispatcher, headers: { host } });
  let got = 0;
  for await (const c of res.body) got += c.length;
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  if (got !== bytes) throw new Error(`download short: ${got}/${bytes}`);
  return +(bytes / 1e6 / s).toFixed(1);
}

async function upload(origin, dispatcher, host) {
  const bytes = TRANSFER_MIB * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 'z');
  async function* body() {
    for (let sent = 0; sent < bytes; sent += chunk.length) yield chunk;
  }
  const started = process.hrtime.bigint();
  const res = await request(`${origin}/sink`, { method: 'POST', body: body(), dispatcher, headers: { host, 'content-length': String(bytes) } });
  const reply = await res.body.json();
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  if (reply.bytes !== bytes) throw new Error(`upload short: ${reply.bytes}/${bytes}`);
  return +(bytes / 1e6 / s).toFixed(1);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-bench-loss-'));
const origin = await startBenchOrigin();
const proxies = [];
let stack;
try {
  stack = await Stack.start({ dir, hubs: 1, logLevel: 'info', ingressLogLevel: 'warn', ingressEnv: { HOPGATE_RESPONSE_TIMEOUT_MS: '120000' } });
  const ca = fs.readFileSync(stack.ca.certFile, 'utf8');
  const tunnelOrigin = `https://127.0.0.1:${stack.httpsPort}`;
  const links = [];
  for (const [i, lossRate] of LOSS_RATES.entries()) {
    const clientId = `bench${i}`;
    const host = `${clientId}.hopgate.test`;
    const impairments = { lossRate, reorderRate: REORDER_RATE };
    const proxy = await UdpLossProxy.start({ target: { host: '127.0.0.1', port: stack.hubs[0].port }, upstream: impairments, downstream: impairments, seed: i + 1 });
    proxies.push(proxy);
    const token = await stack.addClient(clientId);
    await stack.setRoute(host, '/', `${clientId}/origin`);
    await stack.startAgent({ clientId, token, services: { origin: `127.0.0.1:${origin.port}` }, serverPort: proxy.port, extra: { idle_timeout_ms: 15000 } });
    links.push({ lossRate, host, dispatcher: new Agent({ connect: { ca, servername: host } }), down: [], up: [] });
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const link of links) {
      link.down.push(await download(tunnelOrigin, link.dispatcher, link.host));
      link.up.push(await upload(tunnelOrigin, link.dispatcher, link.host));
    }
  }
  console.log(`\n${TRANSFER_MIB} MiB through the proxy, reorder rate ${REORDER_RATE} each way, ${ROUNDS} round(s), MB/s`);
  console.log(`${'loss each way'.padEnd(14)}  ${'download'.padStart(20)}  ${'upload'.padStart(20)}`);
  for (const link of links) console.log(`${String(link.lossRate).padEnd(14)}  ${link.down.join(' ').padStart(20)}  ${link.up.join(' ').padStart(20)}`);
  for (const link of links) await link.dispatcher.close();
} finally {
  await stack?.stop();
  for (const proxy of proxies) await proxy.close();
  origin.child.kill('SIGTERM');
}
