import type { ChildProcess } from 'node:child_process';

/**
 * Children a test process started (servers, services). If the test process dies early
 * (a test-runner timeout sends SIGTERM, Ctrl-C sends SIGINT), they are killed too, so no
 * redis-server, nats-server or HopGate service outlives the run that started it.
 */
const children = new Set<ChildProcess>();
let installed = false;

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', killAll);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      // Someone else (e.g. the demo's graceful shutdown) handles this signal: the 'exit'
      // hook still reaps whatever is left when the process ends.
      if (process.listenerCount(signal) > 0) return;
      killAll();
      process.exit(128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15));
    });
  }
}

/** Registers a child to be killed if this process exits or is signalled first. */
export function reapOnExit(child: ChildProcess): void {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
}
