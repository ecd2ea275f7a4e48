// The WAN runs of `npm run bench`: for each link setting, the emulated internet path of
// ../shared/tools/wan (two network namespaces joined by `wanem`: delay, loss), with
// scripts/bench/wan-run.mjs run inside namespace a (ingress, NATS, Redis, hub, sshd, nginx,
// the load tool), the agent, the ssh client and the origin inside namespace b.
// Needs root, `ip netns`, /dev/net/tun and gcc; without them the runs are skipped with the reason.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reapOnExit } from '../../libs/testkit/dist/src/index.js';
import { stopChild } from './processes.mjs';
import { TARGETS, comparedRow } from './report.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Link settings run by default: one-way delay in ms / loss in percent, each way. */
export const DEFAULT_WAN_SETTINGS = '0/0,10/0,10/1,25/2';
/** Namespaces of wan-setup.sh (its defaults). */
export const WAN_NS_A = 'hgwan-a';
export const WAN_NS_B = 'hgwan-b';
export const WAN_ADDR_A = '10.201.0.1';
export const WAN_ADDR_B = '10.201.0.2';
/** wanem's PRNG seed: the same seed drops the same packet numbers run after run. */
const WANEM_SEED = 1;
/** Time wanem gets to open both devices before the run starts, in ms. */
const WANEM_START_MS = 500;

/** BENCH_WAN_SETTINGS ("delay/loss,..."), parsed. */
export function wanSettingsFromEnv() {
  const text = process.env.BENCH_WAN_SETTINGS || DEFAULT_WAN_SETTINGS;
  return text.split(',').map((s) => {
    const m = /^\s*(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)\s*$/.exec(s);
    if (!m) throw new Error(`BENCH_WAN_SETTINGS: "${s}" is not delay_ms/loss_percent`);
    return { delayMs: Number(m[1]), lossPercent: Number(m[2]) };
  });
}

/** Why the WAN runs cannot run here, or null. */
function missing(tools) {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TUN devices)';
  for (const bin of ['ip', 'gcc']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      return `needs ${bin}`;
    }
  }
  if (!fs.existsSync('/dev/net/tun')) return 'needs /dev/net/tun';
  if (!fs.existsSync(path.join(tools, 'wan-setup.sh'))) return `no link emulator at ${tools} (BENCH_WAN_TOOLS)`;
  return null;
}

function runInNamespaceA(env) {
  const child = spawn('ip', ['netns', 'exec', WAN_NS_A, process.execPath, path.join(here, 'wan-run.mjs')], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  reapOnExit(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wan-run exited ${code}`));
      const last = out.trim().split('\n').pop();
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`wan-run output: ${out.slice(-500)}`));
      }
    });
  });
}

/** Runs every setting; returns { settings: [...], rows } or { skipped } (the reason). */
export async function runWan({ settings, root, log = console.log }) {
  const tools = process.env.BENCH_WAN_TOOLS || path.resolve(root, '../shared/tools/wan');
  const reason = missing(tools);
  if (reason) {
    log(`  WAN runs skipped: ${reason}`);
    return { skipped: reason, rows: [] };
  }
  const setup = path.join(tools, 'wan-setup.sh');
  const wanemBin = process.env.WANEM_BIN || path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME || '/root', '.cache'), 'hopgate-wan', 'wanem');
  if (!fs.existsSync(wanemBin)) execFileSync(setup, ['build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(setup, ['up'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const results = [];
  try {
    for (const setting of settings) {
      const link = `${setting.delayMs} ms / ${setting.lossPercent}%`;
      log(`  link ${link} ...`);
      const wanem = spawn(setup, ['wanem', '--delay-ms', String(setting.delayMs), '--loss', String(setting.lossPercent), '--seed', String(WANEM_SEED)], { stdio: ['ignore', 'ignore', 'pipe'] });
      reapOnExit(wanem);
      let counters = '';
      wanem.stderr.on('data', (d) => (counters += d));
      try {
        await new Promise((r) => setTimeout(r, WANEM_START_MS));
        if (wanem.exitCode !== null) throw new Error(`wanem exited (${wanem.exitCode}): ${counters.slice(-300)}`);
        const figures = await runInNamespaceA({ BENCH_WAN_NS_B: WAN_NS_B, BENCH_WAN_ADDR_A: WAN_ADDR_A, BENCH_WAN_ADDR_B: WAN_ADDR_B });
        results.push({ link, ...setting, ...figures });
      } catch (err) {
        log(`  link ${link} failed: ${err.message}`);
        results.push({ link, ...setting, error: err.message });
      } finally {
        await stopChild(wanem);
        // wanem's counters on SIGTERM, one 'wanem final dir=...' line per direction.
        if (results.length) results[results.length - 1].wanem = counters.split('\n').filter((l) => l.startsWith('wanem final'));
      }
    }
  } finally {
    execFileSync(setup, ['down'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return { settings: results, rows: wanRows(results) };
}

function wanRows(results) {
  const rows = [];
  for (const r of results) {
    if (r.error) {
      rows.push({ link: r.link, name: `failed: ${r.error}`.slice(0, 120) });
      continue;
    }
    const key = `${r.delayMs}/${r.lossPercent}`;
    let downTarget;
    if (r.lossPercent === 0 && (r.delayMs === 0 || r.delayMs === 10)) downTarget = TARGETS.wanLosslessDownloadMbMin;
    else downTarget = TARGETS.wanLossyDownloadVsSshMin[key];
    rows.push({ link: r.link, ...comparedRow(`download ${r.mib} MiB MB/s`, { direct: r.direct_download.mb_per_s, ssh: r.ssh_download.mb_per_s, hopgate: r.hopgate_download.mb_per_s }, downTarget, !r.hopgate_download.cut) });
    rows.push({ link: r.link, ...comparedRow(`GET 1 KiB c=${r.connections} req/s`, { ssh: r.ssh_get.req_per_s, hopgate: r.hopgate_get.req_per_s }, r.delayMs > 0 ? TARGETS.wanDelayedGetVsSshMin : undefined) });
    rows.push({ link: r.link, ...comparedRow(`GET 1 KiB c=${r.connections} p99 ms`, { ssh: r.ssh_get.p99_ms, hopgate: r.hopgate_get.p99_ms }) });
    rows.push({ link: r.link, ...comparedRow('CPU ms/MiB, download: agent / hub', { hopgate: `${r.hopgate_download_cpu_ms_per_mib.agent} / ${r.hopgate_download_cpu_ms_per_mib.hub}` }) });
  }
  return rows;
}
