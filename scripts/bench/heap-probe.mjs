// Preloaded into the services of the idle-sessions stack (node --expose-gc --import this):
// on SIGUSR2, a full garbage collection, then process.memoryUsage() written as JSON to
// <tmpdir>/hopgate-bench-heap-<pid>.json (heapProbeFile), so the bench reads the heap after GC.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where the process with `pid` writes its probe. */
export const heapProbeFile = (pid) => path.join(os.tmpdir(), `hopgate-bench-heap-${pid}.json`);

process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const file = heapProbeFile(process.pid);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(process.memoryUsage()));
  fs.renameSync(`${file}.tmp`, file);
});
