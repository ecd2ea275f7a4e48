// Build-stage helper of deploy/Dockerfile (run by assemble.sh in /out/app after `npm ci --omit=dev`):
// removes installed packages that no workspace package can load, following `dependencies` and
// `optionalDependencies` from node_modules/@hopgate/* the way node resolves them (nearest
// node_modules upwards). NEVER_LOADED lists runtime "dependencies" that are only test tools of
// their package: is-dtls 1.x declares its test runner `tape` (with es-abstract: ~11 MB).
import fs from 'node:fs';
import path from 'node:path';

const NEVER_LOADED = new Set(['tape']);
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
  if (key.startsWith('node_modules/@hopgate/') && meta.link) {
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
process.stdout.write(`prune-unreachable: kept ${reached.size} packages, removed ${removed}\n`);
