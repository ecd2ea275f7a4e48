// Build-stage helper of deploy/Dockerfile (run by assemble.sh in /out/app after `npm ci --omit=dev`):
// removes installed packages that no workspace package can load, following `dependencies` and
// `optionalDependencies` from node_modules/@hopgate/* the way node resolves them (nearest
// node_modules upwards). NEVER_LOADED lists runtime "dependencies" that are only test tools of
// their package: is-dtls 1.x declares its test runner `tape` (with es-abstract: ~11 MB).
// The test kit is a devDependency of every workspace: npm links it even with --omit=dev, so it is
// not a root (following it kept undici and the kit's other tools in images that never load them).
// Then, in every kept package, the folders at its root that only its own development uses (tests,
// benchmarks, examples, a published jest cache) go too, unless its main, exports or bin point into
// them: bintrees ships 2.3 MB of test data, binary-data a 1.1 MB .jest-cache.
import fs from 'node:fs';
import path from 'node:path';

const NEVER_LOADED = new Set(['tape']);
const NOT_A_ROOT = new Set(['node_modules/@hopgate/testkit']);
const DEVELOPMENT_ONLY_DIRS = ['.jest-cache', '.nyc_output', 'coverage', 'test', 'tests', '__tests__', 'bench', 'benchmark', 'benchmarks', 'example', 'examples'];
const root = process.cwd();
const lock = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/.package-lock.json'), 'utf8'));
const packages = lock.packages;

/** The lock key of the package `name` as seen from the package at lock key `from`. */
function resolve(from, name) {
  let dir = from;
  for (;;) {
    const key = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[key]) return key;
    if (!dir) return undefined;
    const at = dir.lastIndexOf('/node_modules/');
    dir = at < 0 ? '' : dir.slice(0, at);
  }
}

const reached = new Set();
const queue = [];
for (const [key, meta] of Object.entries(packages)) {
  if (key.startsWith('node_modules/@hopgate/') && meta.link && !NOT_A_ROOT.has(key)) {
    reached.add(key);
    queue.push(meta.resolved);
  }
}
while (queue.length > 0) {
  const key = queue.pop();
  const meta = packages[key];
  if (!meta) continue;
  for (const name of Object.keys({ ...meta.dependencies, ...meta.optionalDependencies })) {
    if (NEVER_LOADED.has(name)) continue;
    const dep = resolve(key, name);
    if (!dep || reached.has(dep)) continue;
    reached.add(dep);
    queue.push(packages[dep].link ? packages[dep].resolved : dep);
  }
}
let removed = 0;
for (const key of Object.keys(packages)) {
  if (!key.startsWith('node_modules/') || reached.has(key)) continue;
  if (!fs.existsSync(path.join(root, key))) continue;
  fs.rmSync(path.join(root, key), { recursive: true, force: true });
  removed += 1;
}

/** Every path string a package.json's main, exports or bin names (nested conditions included). */
function entryPaths(manifest) {
  const out = [];
  const walk = (value) => {
    if (typeof value === 'string') out.push(value);
    else if (value && typeof value === 'object') for (const v of Object.values(value)) walk(v);
  };
  walk(manifest.main);
  walk(manifest.exports);
  walk(manifest.bin);
  return out.map((p) => p.replace(/^\.\//, ''));
}

let prunedDirs = 0;
for (const key of reached) {
  if (packages[key]?.link || !key.startsWith('node_modules/')) continue;
  const dir = path.join(root, key);
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  } catch {
    continue;
  }
  const entries = entryPaths(manifest);
  for (const name of DEVELOPMENT_ONLY_DIRS) {
    if (entries.some((entry) => entry === name || entry.startsWith(`${name}/`))) continue;
    const target = path.join(dir, name);
    if (!fs.existsSync(target) || !fs.statSync(target).isDirectory()) continue;
    fs.rmSync(target, { recursive: true, force: true });
    prunedDirs += 1;
  }
}
process.stdout.write(`prune-unreachable: kept ${reached.size} packages, removed ${removed}, development folders removed ${prunedDirs}\n`);
