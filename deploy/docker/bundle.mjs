// Build-stage helper of deploy/Dockerfile (run by assemble.sh for the agent, in /out/app after the
// tree is assembled): bundles the agent and the hopgate CLI, with the dependencies they load, into
// one ES module each, and makes them the whole of /out/app:
//   services/agent/dist/main.js   the agent (`node /app/services/agent/dist/main.js`, as before)
//   services/cli/dist/main.js     the hopgate CLI (the /usr/local/bin/hopgate link's target)
//   package.json                  {"type":"module"} so node loads both as ES modules
//   licenses/                     the license files of every bundled package (bundling drops them)
//                                 and PACKAGES.txt: name, version and license field of each
// Why only the agent: it is the image users pull onto their own machines, and the one the issue
// asks to keep the smallest; its whole node_modules tree (undici, the DTLS client, pino, yaml,
// ioredis for the CLI) is larger than the ingress's. The servers keep the plain tree: their stack
// traces and profiles point at readable files on the machines that carry the traffic.
// Identifiers are minified but function and class names are kept (--keep-names), so a stack
// trace from a user still names the functions it went through.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const app = process.cwd();
const esbuild = process.argv[2];
if (!esbuild) {
  process.stderr.write('usage: node bundle.mjs <path of the esbuild binary>   (run in the assembled app folder)\n');
  process.exit(2);
}
const ENTRIES = ['services/agent/dist/main.js', 'services/cli/dist/main.js'];
// CommonJS dependencies call require() for node's builtins; an ES module bundle has no require.
const REQUIRE_BANNER = "import{createRequire as __hopgateCreateRequire}from'node:module';const require=__hopgateCreateRequire(import.meta.url);";
const LICENSE_FILE = /^(licen[cs]e|copying|notice)(\.|-|$)/i;

/** The installed package a bundled file belongs to: the deepest `node_modules/<name>` folder on its
 * path with a package.json (some packages keep a private `src/node_modules` of plain folders). */
function packageDirOf(file) {
  let found;
  for (const match of file.matchAll(/node_modules\/(?:@[^/]+\/)?[^/]+/g)) {
    const dir = file.slice(0, match.index + match[0].length);
    if (fs.existsSync(path.join(app, dir, 'package.json'))) found = dir;
  }
  return found;
}

const out = fs.mkdtempSync(path.join(path.dirname(app), 'bundle-'));
const bundledPackages = new Set();
for (const entry of ENTRIES) {
  const outfile = path.join(out, entry);
  const metafile = path.join(out, `${path.basename(path.dirname(path.dirname(entry)))}.meta.json`);
  execFileSync(esbuild, [
    entry, '--bundle', '--platform=node', '--target=node20', '--format=esm',
    '--minify', '--keep-names', '--legal-comments=none', '--log-level=warning',
    `--banner:js=${REQUIRE_BANNER}`, `--outfile=${outfile}`, `--metafile=${metafile}`,
  ], { stdio: 'inherit' });
  fs.chmodSync(outfile, 0o755);
  const meta = JSON.parse(fs.readFileSync(metafile, 'utf8'));
  for (const input of Object.keys(meta.inputs)) {
    const pkgDir = packageDirOf(input);
    if (pkgDir) bundledPackages.add(pkgDir);
  }
  fs.rmSync(metafile);
}
// The DTLS library's AES-GCM addon cannot be bundled: it goes next to the agent's bundle, where
// libs/dtls/src/native-aes-gcm.ts looks for it (beside the module that loads it).
const addon = path.join(app, 'libs/dtls/native/build/hopgate_aes_gcm.node');
if (fs.existsSync(addon)) fs.copyFileSync(addon, path.join(out, 'services/agent/dist/hopgate_aes_gcm.node'));
fs.writeFileSync(path.join(out, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`);
const licenses = path.join(out, 'licenses');
fs.mkdirSync(licenses);
let withoutLicense = 0;
const listing = [];
for (const pkgDir of [...bundledPackages].sort()) {
  const dir = path.join(app, pkgDir);
  const name = pkgDir.slice(pkgDir.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  listing.push(`${name}@${manifest.version} ${typeof manifest.license === 'string' ? manifest.license : JSON.stringify(manifest.license ?? manifest.licenses ?? 'UNKNOWN')}`);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => LICENSE_FILE.test(f)) : [];
  if (files.length === 0) withoutLicense += 1;
  for (const file of files) {
    const target = path.join(licenses, name.replace('/', '__'), file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(path.join(dir, file), target);
  }
}
fs.writeFileSync(path.join(licenses, 'PACKAGES.txt'), `${listing.join('\n')}\n`);
// The bundles replace the assembled tree.
for (const name of fs.readdirSync(app)) fs.rmSync(path.join(app, name), { recursive: true, force: true });
for (const name of fs.readdirSync(out)) fs.renameSync(path.join(out, name), path.join(app, name));
fs.rmSync(out, { recursive: true, force: true });
process.stdout.write(`bundle: ${ENTRIES.length} entries, ${bundledPackages.size} packages bundled (${withoutLicense} without a license file of their own)\n`);
