import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../src/index.js';

const indexJs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/index.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('servers started by a test process die with it when it is killed (SIGTERM)', async () => {
  const script = `import { startRedis } from ${JSON.stringify(indexJs)};
const r = await startRedis(); process.stdout.write(String(r.process.pid) + '\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  assert.ok(alive(pid));
  child.kill('SIGTERM');
  await waitFor('redis-server reaped', () => !alive(pid), 5000);
});
