// Not a test: moves SOAK_MIB MiB (default 1024) down and then up through the full path
// (client --HTTPS--> ingress --NATS--> hub --DTLS--> agent --> origin), checks sha256 both ways
// and samples the VmRSS of ingress, hub and agent every 100 ms, printing idle, peak and growth.
// Exits 1 if a body differs or a process grew by more than SOAK_MAX_GROWTH_MIB (default 100).
//
//   npx turbo run build --output-logs=errors-only && node scripts/soak-transfer.mjs
//   SOAK_MIB=256 SOAK_NODE_ARGS="--heapsnapshot-signal=SIGUSR2" node scripts/soak-transfer.mjs
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Stack, RssSampler, formatMiB, readRssBytes, startBodyOrigin, randomChunks } from '../libs/testkit/dist/src/index.js';

const MIB = 1024 * 1024;
const SOAK_MIB = Number(process.env.SOAK_MIB ?? 1024);
const MAX_GROWTH_MIB = Number(process.env.SOAK_MAX_GROWTH_MIB ?? 100);
/** Progress line every this many MiB. */
const PROGRESS_EVERY_MIB = Number(process.env.SOAK_PROGRESS_EVERY_MIB ?? 128);
const NODE_ARGS = (process.env.SOAK_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const HOST = 'soak.hopgate.test';

if (!Number.isInteger(SOAK_MIB) || SOAK_MIB <= 0) throw new Error(`SOAK_MIB must be a positive integer, got ${process.env.SOAK_MIB}`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-soak-'));
const origin = await startBodyOrigin();
let stack;
let failed = false;
try {
  stack = await Stack.start({
    dir,
    hubs: 1,
    ingressLogLevel: 'warn',
    nodeArgs: NODE_ARGS,
    hubEnv: { HOPGATE_AGENT_IDLE_TIMEOUT_MS: '15000', HOPGATE_SESSION_TTL_MS: '15000' },
  });
  const token = await stack.addClient('soak');
  await stack.setRoute(HOST, '/', 'soak/body');
  const agent = await stack.startAgent({ clientId: 'soak', token, services: { body: origin.address }, extra: { idle_timeout_ms: 15000 } });
  const ca = fs.readFileSync(stack.ca.certFile, 'utf8');
  const pids = { ingress: stack.ingress.pid, hub: stack.hubs[0].process.pid, agent: agent.pid };

  const request = (method, urlPath, headers = {}) =>
    https.request({ host: '127.0.0.1', port: stack.httpsPort, method, path: urlPath, servername: HOST, ca, agent: false, headers: { host: HOST, ...headers } });
  const responseOf = (req) => new Promise((resolve, reject) => { req.once('response', resolve); req.once('error', reject); });
  /** Prints a line each time `bytes` passes another PROGRESS_EVERY_MIB. */
  const progress = (what) => {
    const started = Date.now();
    let next = PROGRESS_EVERY_MIB * MIB;
    return (bytes) => {
      if (bytes < next) return;
      const rss = Object.entries(pids).map(([name, pid]) => `${name} ${formatMiB(readRssBytes(pid) ?? 0)}`).join(', ');
      console.log(`  ${what} ${Math.floor(bytes / MIB)} MiB, ${(bytes / 1e6 / ((Date.now() - started) / 1000)).toFixed(1)} MB/s, VmRSS now: ${rss}`);
      next += PROGRESS_EVERY_MIB * MIB;
    };
  };

  async function download(bytes) {
    const id = origin.nextId();
    const req = request('GET', `/download/${bytes}?id=${id}`);
    req.end();
    const res = await responseOf(req);
    if (res.statusCode !== 200) throw new Error(`download: status ${res.statusCode}`);
    const hash = crypto.createHash('sha256');
    const report = progress('down');
    let got = 0;
    for await (const chunk of res) {
      hash.update(chunk);
      got += chunk.length;
      report(got);
    }
    return { length: got, received: hash.digest('hex'), sent: await origin.download(id).done };
  }

  async function upload(bytes) {
    const req = request('POST', '/upload', { 'content-length': String(bytes) });
    const responded = responseOf(req);
    const hash = crypto.createHash('sha256');
    const report = progress('up');
    let sent = 0;
    for (const chunk of randomChunks(bytes)) {
      hash.update(chunk);
      sent += chunk.length;
      if (!req.write(chunk)) await once(req, 'drain'); // rejects on 'error'
      report(sent);
    }
    req.end();
    const res = await responded;
    let body = '';
    for await (const chunk of res) body += chunk;
    if (res.statusCode !== 200) throw new Error(`upload: status ${res.statusCode}: ${body}`);
    const reply = JSON.parse(body);
    return { length: reply.length, received: reply.sha256, sent: hash.digest('hex') };
  }

  // A small warm-up so that the idle figures include connections and TLS state.
  await download(MIB);
  await upload(MIB);

  const rows = [];
  for (const [direction, move] of [['download', download], ['upload', upload]]) {
    console.log(`${direction} ${SOAK_MIB} MiB ...`);
    const sampler = new RssSampler(pids).start();
    const started = Date.now();
    const result = await move(SOAK_MIB * MIB);
    const seconds = (Date.now() - started) / 1000;
    const figures = sampler.stop();
    const intact = result.length === SOAK_MIB * MIB && result.sent === result.received;
    if (!intact) failed = true;
    console.log(`${direction}: ${result.length} bytes in ${seconds.toFixed(1)} s (${((result.length / 1e6) / seconds).toFixed(1)} MB/s), sha256 ${intact ? 'equal' : `DIFFERS (sent ${result.sent}, received ${result.received})`}`);
    for (const [name, f] of Object.entries(figures)) {
      const over = f.growthBytes > MAX_GROWTH_MIB * MIB;
      if (over) failed = true;
      rows.push({ direction, process: name, idle: formatMiB(f.idleBytes), peak: formatMiB(f.peakBytes), growth: formatMiB(f.growthBytes), samples: f.samples, ok: !over });
    }
  }
  console.table(rows);
  console.log(failed ? `FAIL: a body differs or a process grew by more than ${MAX_GROWTH_MIB} MiB` : `ok: every process within +${MAX_GROWTH_MIB} MiB of idle, bodies intact`);
  console.log(`logs: ${stack.logDir}`);
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  await stack?.stop();
  await origin.close();
}
// exit() rather than exitCode: after a failed transfer a half-written request may keep the loop alive.
process.exit(failed ? 1 : 0);
