import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { waitFor } from '@hopgate/testkit';
import { LoopMonitor } from '../src/index.js';

/** This package's built entry (this file is dist/test/run-service.test.js). */
const RUNTIME_ENTRY = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/index.js')).href;
/** The metrics package's built entry, resolved from here (a dependency of the runtime). */
const METRICS_ENTRY = import.meta.resolve('@hopgate/metrics');

/**
 * A service run by runService whose steps the test drives over stdin: `start` resolves on
 * the line `started`, drain() on `drained` (or never), readiness says `waiting for redis`
 * until started. drainTimeoutMs from the argument.
 */
function serviceProgram(drainTimeoutMs: number): string {
  return `
    import readline from 'node:readline';
    import { runService } from ${JSON.stringify(RUNTIME_ENTRY)};
    import { CertManagerMetrics } from ${JSON.stringify(METRICS_ENTRY)};
    const waiters = new Map();
    readline.createInterface({ input: process.stdin }).on('line', (line) => waiters.get(line.trim())?.());
    const when = (line) => new Promise((resolve) => waiters.set(line, resolve));
    let started = false;
    let drained = false;
    void runService({
      name: 'test-service',
      loadConfig: () => ({ logLevel: 'info', opsListen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: ${drainTimeoutMs}, drainDelayMs: 0 }),
      create: (config, logger) => ({
        start: async () => { await when('started'); started = true; },
        stop: async () => logger.info({ after_drain: drained }, 'stopped'),
        drain: async (deadlineMs) => { logger.info({ deadline_ms: deadlineMs }, 'drain called'); await when('drained'); drained = true; },
        readiness: () => (started ? { ready: true } : { ready: false, reason: 'waiting for redis' }),
        metrics: (registry) => new CertManagerMetrics(registry).order('issued'),
      }),
    });
  `;
}

interface Running {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  port: number;
  exit: Promise<number | null>;
}

async function runProgram(drainTimeoutMs: number): Promise<Running> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', serviceProgram(drainTimeoutMs)], {
    cwd: path.dirname(fileURLToPath(import.meta.url)),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: Array<Record<string, unknown>> = [];
  readline.createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  // 'close', not 'exit': every log line has been read by then.
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const listening = await waitFor('ops listening', () => lines.find((l) => l['msg'] === 'ops listening'));
  const port = Number(String(listening['listen']).split(':').pop());
  return { child, lines, port, exit };
}

async function get(port: number, pathname: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('ops listener before start: healthz 200 and readyz 503 with the service reason; ready once started; 404 elsewhere; SIGTERM drains then exits 0', async () => {
  const run = await runProgram(10_000);
  try {
    assert.deepEqual(await get(run.port, '/healthz').then((r) => r.status), 200);
    assert.deepEqual(await get(run.port, '/readyz'), { status: 503, body: { ready: false, reason: 'waiting for redis' } });
    // /metrics: the process's registry, with the service's collectors, before start too.
    const metrics = await fetch(`http://127.0.0.1:${run.port}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
    assert.match(text, /^hopgate_certmanager_orders_total\{outcome="issued"\} 1$/m);
    assert.equal((await get(run.port, '/nope')).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${run.port}/readyz`, { method: 'POST' })).status, 404);
    run.child.stdin!.write('started\n');
    await waitFor('ready', async () => (await get(run.port, '/readyz')).status === 200);
    assert.deepEqual((await get(run.port, '/readyz')).body, { ready: true });
    run.child.kill('SIGTERM');
    await waitFor('drain called', () => run.lines.some((l) => l['msg'] === 'drain called'));
    assert.equal(run.lines.find((l) => l['msg'] === 'drain called')!['deadline_ms'], 10_000);
    // Draining: not ready, still alive, the process still there until the drain ends.
    assert.deepEqual(await get(run.port, '/readyz'), { status: 503, body: { ready: false, reason: 'draining' } });
    assert.equal((await get(run.port, '/healthz')).status, 200);
    assert.equal(run.lines.some((l) => l['msg'] === 'stopped'), false, 'stop waits for the drain');
    run.child.stdin!.write('drained\n');
    assert.equal(await run.exit, 0);
    const ended = run.lines.find((l) => l['msg'] === 'test-service drain ended');
    assert.equal(ended?.['outcome'], 'drained');
    // Not by line order: pino's async stdout may reorder the last lines at exit (a write in flight, the rest flushed).
    assert.equal(run.lines.find((l) => l['msg'] === 'stopped')?.['after_drain'], true, 'stop after the drain');
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('a second SIGTERM during the drain skips to stop', async () => {
  const run = await runProgram(60_000);
  try {
    run.child.stdin!.write('started\n');
    await waitFor('ready', async () => (await get(run.port, '/readyz')).status === 200);
    run.child.kill('SIGTERM');
    await waitFor('drain called', () => run.lines.some((l) => l['msg'] === 'drain called'));
    const began = Date.now();
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0);
    assert.ok(Date.now() - began < 10_000, 'not the 60 s drain');
    assert.equal(run.lines.find((l) => l['msg'] === 'test-service drain ended')?.['outcome'], 'cut');
    assert.ok(run.lines.some((l) => l['msg'] === 'stopped'));
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('a drain that ignores its deadline is left after the deadline plus the margin', async () => {
  const run = await runProgram(300);
  try {
    run.child.stdin!.write('started\n');
    await waitFor('ready', async () => (await get(run.port, '/readyz')).status === 200);
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0);
    const ended = run.lines.find((l) => l['msg'] === 'test-service drain ended');
    assert.equal(ended?.['outcome'], 'overran');
    assert.ok(Number(ended?.['drain_ms']) >= 1_300, `drain_ms ${String(ended?.['drain_ms'])}`);
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('SIGTERM while starting stops at once (no drain) and exits 0', async () => {
  const run = await runProgram(60_000);
  try {
    assert.equal((await get(run.port, '/readyz')).status, 503);
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0);
    assert.equal(run.lines.some((l) => l['msg'] === 'drain called'), false);
    assert.ok(run.lines.some((l) => l['msg'] === 'stopped'));
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('LoopMonitor: a loop blocked past the bound is unhealthy, then healthy again after the memory window', async () => {
  const monitor = new LoopMonitor({ blockedBoundMs: 250, probeIntervalMs: 20, memoryMs: 1_000 });
  monitor.start();
  try {
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(monitor.health.healthy, true);
    const until = Date.now() + 800;
    while (Date.now() < until) {
      // Busy: the probe timer cannot fire.
    }
    // Seen at once by an answer that runs right after the block (the probe is overdue)...
    const during = monitor.health;
    assert.equal(during.healthy, false);
    assert.ok(during.delayMs >= 600, `delay ${during.delayMs}`);
    // ...and remembered by the probe after it.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(monitor.health.healthy, false);
    await waitFor('healthy again', () => monitor.health.healthy, 5_000);
  } finally {
    monitor.stop();
  }
});
