// Builds native/aes_gcm.c into native/build/hopgate_aes_gcm.node: AES-128-GCM with one OpenSSL
// context per direction (see the C file for why). Run by this package's `build` script.
//
// It needs only a C compiler ($CC, else cc) and Node's headers (node_api.h and openssl/, shipped
// with Node in <prefix>/include/node, or $npm_config_nodedir/include/node): no node-gyp, no
// Python. When either is missing, or the compiler fails, it says so and exits 0: the hub and the
// agent then protect records with node:crypto (slower per record, same bytes on the wire), and
// HOPGATE_DTLS_RECORD_CRYPTO=native makes them refuse to start instead (docs/configuration.md).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const source = path.join(root, 'native', 'aes_gcm.c');
const outDir = path.join(root, 'native', 'build');
const output = path.join(outDir, 'hopgate_aes_gcm.node');

function say(message) {
  process.stderr.write(`@hopgate/dtls native AES-GCM: ${message}\n`);
}

/** Folders that may hold Node's headers, first match wins. */
function headerCandidates() {
  const candidates = [];
  if (process.env.npm_config_nodedir) candidates.push(path.join(process.env.npm_config_nodedir, 'include', 'node'));
  // <prefix>/bin/node -> <prefix>/include/node (Debian's /usr, the official images' /usr/local, nvm).
  candidates.push(path.join(path.dirname(path.dirname(fs.realpathSync(process.execPath))), 'include', 'node'));
  candidates.push(path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'));
  return candidates;
}

const candidates = headerCandidates();
const includeDir = candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')) && fs.existsSync(path.join(dir, 'openssl', 'evp.h')));
if (!includeDir) {
  say(`not built: no Node headers (node_api.h, openssl/evp.h) in ${candidates.join(', ')}; records use node:crypto`);
  process.exit(0);
}
// Up to date: built after the last change to the C file and to this script.
const builtAt = fs.existsSync(output) ? fs.statSync(output).mtimeMs : -Infinity;
if (builtAt >= fs.statSync(source).mtimeMs && builtAt >= fs.statSync(fileURLToPath(import.meta.url)).mtimeMs) process.exit(0);
fs.mkdirSync(outDir, { recursive: true });
const compiler = process.env.CC || 'cc';
const temporary = `${output}.${process.pid}.tmp`;
try {
  execFileSync(compiler, ['-O2', '-shared', '-fPIC', '-fvisibility=hidden', '-Wall', '-Werror', '-std=c11', '-D_POSIX_C_SOURCE=200809L', `-I${includeDir}`, '-o', temporary, source], { stdio: ['ignore', 'inherit', 'inherit'] });
  fs.renameSync(temporary, output);
  say(`built ${path.relative(process.cwd(), output) || output} with ${compiler} and ${includeDir}`);
} catch (err) {
  fs.rmSync(temporary, { force: true });
  say(`not built (${compiler}: ${err.code === 'ENOENT' ? 'not found' : `exit ${err.status ?? err.message}`}); records use node:crypto`);
}
