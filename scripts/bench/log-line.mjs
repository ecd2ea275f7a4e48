// CPU time per access log line of libs/log (process.cpuUsage: every thread of the process), in
// the shape of the hub's access line: a lazy per-request child with 4 bindings, then one info
// line with two durations; `lines per turn` lines per event-loop turn. Not part of `npm run bench`.
//   node scripts/bench/log-line.mjs [lines] [lines per turn] [log library entry] | cat > /dev/null
// (stdout a pipe read by another process, as a container runtime reads it; the figure goes to stderr)
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [linesArg = '200000', perTurnArg = '8', lib = pathToFileURL(path.join(root, 'libs/log/dist/src/index.js')).href] = process.argv.slice(2);
const { createLogger, lazyChild } = await import(lib);
const log = createLogger({ service: 'dtls-hub', level: 'info' }).child({ component: 'forwarder' });
const lines = Number(linesArg), perTurn = Number(perTurnArg);
let n = 0;
const one = () => {
  const child = lazyChild(log, { request_id: `01J${n.toString(36).padStart(20, '0')}`, client_id: 'bench', route: 'bench.hopgate.test/', instance_id: 'i-0123456789abcdef' });
  child.info({ held_ms: 1.234, head_ms: 0.987 }, 'request relayed');
  n++;
};
// Warm up (JIT).
for (let i = 0; i < 20000; i++) one();
await new Promise((r) => setTimeout(r, 50));
n = 0;
const start = process.cpuUsage();
const t0 = performance.now();
await new Promise((resolve) => {
  const turn = () => {
    for (let i = 0; i < perTurn && n < lines; i++) one();
    if (n < lines) setImmediate(turn); else setImmediate(resolve);
  };
  turn();
});
const used = process.cpuUsage(start);
process.stderr.write(JSON.stringify({ lines, per_turn: perTurn, cpu_us_per_line: +((used.user + used.system) / lines).toFixed(2), user_us: +(used.user / lines).toFixed(2), sys_us: +(used.system / lines).toFixed(2), wall_ms: Math.round(performance.now() - t0) }) + '\n');
