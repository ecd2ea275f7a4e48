// Child processes of the bench scripts: spawn with a log file, stop by PID, and CPU time read
// from /proc/<pid>/stat (utime + stime, every thread of the process).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reapOnExit } from '../../libs/testkit/dist/src/index.js';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (getconf CLK_TCK; 100 on Linux). */
export const CLOCK_TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
/** Grace between SIGTERM and SIGKILL when a child is stopped, in ms. */
const STOP_GRACE_MS = 3_000;
/** The bench's origin service (scripts/bench-origin.mjs). */
const BENCH_ORIGIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bench-origin.mjs');

/**
 * Starts the bench origin and resolves with it and the port it printed; rejects if it exits
 * first. `listen` is the address it listens on (default 127.0.0.1); `prefix` runs it through
 * another command first (e.g. `ip netns exec hgwan-b`). It is killed if the bench dies first.
 */
export function startBenchOrigin({ listen, prefix = [] } = {}) {
  const [file, ...rest] = [...prefix, process.execPath, BENCH_ORIGIN, ...(listen ? [listen] : [])];
  const child = spawn(file, rest, { stdio: ['ignore', 'pipe', 'inherit'] });
  reapOnExit(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench origin exited (${code})`)));
    child.stdout.once('data', (d) => resolve({ child, port: Number(String(d).trim()) }));
  });
}

/**
 * Starts `command` with its stdout and stderr appended to `logFile`; `prefix` runs it through
 * another command first (e.g. `ip netns exec hgwan-b`, which execs, so the PID is the command's).
 * The child is killed if the bench dies first.
 */
export function startLogged(command, args, logFile, { prefix = [], env } = {}) {
  const out = fs.openSync(logFile, 'a');
  const [file, ...rest] = [...prefix, command, ...args];
  const child = spawn(file, rest, { stdio: ['ignore', out, out], env: env ? { ...process.env, ...env } : process.env });
  fs.closeSync(out);
  reapOnExit(child);
  return child;
}

/** SIGTERM, then SIGKILL after STOP_GRACE_MS; resolves when the child has exited. */
export async function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** CPU time of one process (all its threads) in ms, or null once it has exited. */
export function cpuMsOf(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name (which may hold spaces) start at field 3; utime is 14, stime 15.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

/** `pid` and all its descendants (from /proc/<pid>/task/<tid>/children). */
export function processTree(pid) {
  const all = [];
  const walk = (p) => {
    all.push(p);
    let tids = [];
    try {
      tids = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let children = '';
      try {
        children = fs.readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of children.split(' ').filter(Boolean)) walk(Number(c));
    }
  };
  walk(pid);
  return all;
}

/**
 * CPU meter over named process groups: `groups` maps a name to a function returning the PIDs
 * to count now (a group's tree may grow, as sshd forks per connection). `start()` then
 * `stop()` gives each group's CPU ms in between, summed over the PIDs alive at both reads.
 */
export class CpuMeter {
  constructor(groups) {
    this.groups = groups;
  }
  read() {
    const at = new Map();
    for (const [name, pidsOf] of Object.entries(this.groups)) {
      const perPid = new Map();
      for (const pid of pidsOf()) {
        const ms = cpuMsOf(pid);
        if (ms !== null) perPid.set(pid, ms);
      }
      at.set(name, perPid);
    }
    return at;
  }
  start() {
    this.before = this.read();
  }
  /** CPU ms per group since start(); a PID born in between counts from zero. */
  stop() {
    const after = this.read();
    const out = {};
    for (const [name, perPid] of after) {
      let ms = 0;
      for (const [pid, now] of perPid) ms += now - (this.before.get(name)?.get(pid) ?? 0);
      out[name] = ms;
    }
    return out;
  }
}
