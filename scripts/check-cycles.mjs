// Fails (exit 1) on any import cycle: between workspace packages (package.json
// dependencies) or between source files of one package (relative imports in src/).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const packageDirs = ['libs', 'services']
  .flatMap((d) => fs.readdirSync(path.join(root, d)).map((n) => path.join(root, d, n)))
  .filter((d) => fs.existsSync(path.join(d, 'package.json')));

/** Cycles in a directed graph (Map node -> Set of nodes), each as a list of nodes. */
function findCycles(graph) {
  const cycles = [];
  const state = new Map(); // 1 = on stack, 2 = done
  const stack = [];
  const visit = (node) => {
    state.set(node, 1);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 1) cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 2);
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

const problems = [];
const packages = new Map();
for (const dir of packageDirs) {
  const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  packages.set(pj.name, new Set(Object.keys({ ...pj.dependencies }).filter((d) => d.startsWith('@hopgate/'))));
}
for (const cycle of findCycles(packages)) problems.push(`package cycle: ${cycle.join(' -> ')}`);

const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
let files = 0;
for (const dir of packageDirs) {
  const src = path.join(dir, 'src');
  if (!fs.existsSync(src)) continue;
  const graph = new Map();
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        files += 1;
        const text = fs.readFileSync(p, 'utf8');
        const deps = new Set();
        for (const m of text.matchAll(IMPORT)) {
          // `import type` is erased at build time and cannot form a runtime cycle.
          if (/^(?:import|export)\s+type\s/.test(m[0])) continue;
          const spec = m[1] ?? m[2];
          deps.add(path.resolve(path.dirname(p), spec.replace(/\.js$/, '.ts')));
        }
        graph.set(p, deps);
      }
    }
  };
  walk(src);
  for (const cycle of findCycles(graph)) problems.push(`file cycle: ${cycle.map((f) => path.relative(root, f)).join(' -> ')}`);
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(`hopgate: no import cycles (${packages.size} packages, ${files} source files)`);
