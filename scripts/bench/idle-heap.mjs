// The idle-sessions row alone (scripts/bench/idle-sessions.mjs), for measuring the hub's heap
// per idle session without the whole bench. Usage:
//   node scripts/bench/idle-heap.mjs [count ...]        (default: 500 1000)
// Env: IDLE_HEAP_SECONDS (idle time, default 10), IDLE_HEAP_LOAD_PROCESSES (default 2),
// IDLE_HEAP_HANDSHAKES_IN_FLIGHT (default 8); BENCH_HEAP_SNAPSHOT_DIR makes the hub write a
// heap snapshot at each probe (before the first session and at the end of the idle time).
// Prints one JSON line per count.
import { measureIdleSessions } from './idle-sessions.mjs';

const counts = process.argv.slice(2).map(Number);
const idleSeconds = Number(process.env.IDLE_HEAP_SECONDS ?? 10);
const loadProcesses = Number(process.env.IDLE_HEAP_LOAD_PROCESSES ?? 2);
const handshakesInFlight = Number(process.env.IDLE_HEAP_HANDSHAKES_IN_FLIGHT ?? 8);
/** No new session is started after this long, in s. */
const OPEN_SECONDS = 300;
/** The agents never reach an origin while idle: any port does. */
const UNUSED_ORIGIN_PORT = 9;

for (const count of counts.length ? counts : [500, 1000]) {
  const r = await measureIdleSessions({ count, idleSeconds, openSeconds: OPEN_SECONDS, loadProcesses, handshakesInFlight, originPort: UNUSED_ORIGIN_PORT, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
