// Preloaded into the services of the idle-sessions stack (node --expose-gc --import this):
// on SIGUSR2, a full garbage collection, then process.memoryUsage() written as JSON to
// <tmpdir>/hopgate-bench-heap-<pid>.json (heapProbeFile), so the bench reads the heap after GC.
// With BENCH_HEAP_SNAPSHOT_DIR set, each probe also writes a heap snapshot there first
// (<pid>-<n>.heapsnapshot; scripts/bench/idle-heap.mjs reads them).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';

/** Where the process with `pid` writes its probe. */
export const heapProbeFile = (pid) => path.join(os.tmpdir(), `hopgate-bench-heap-${pid}.json`);

let snapshots = 0;
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const snapshotDir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
  if (snapshotDir) v8.writeHeapSnapshot(path.join(snapshotDir, `${process.pid}-${snapshots++}.heapsnapshot`));
  const file = heapProbeFile(process.pid);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(process.memoryUsage()));
  fs.renameSync(`${file}.tmp`, file);
});
