import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CRASH_EXIT_CODE } from '../src/index.js';

/** This package's built entry and the log library's (this file is dist/test/crash-handlers.test.js). */
const RUNTIME_ENTRY = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/index.js')).href;

/** Runs a small program that installs the handlers and then fails the way `failure` says. */
function runCrashing(failure: string): Promise<{ code: number | null; stdout: string }> {
  const program = `
    import { installCrashHandlers } from ${JSON.stringify(RUNTIME_ENTRY)};
    import { createLogger } from '@hopgate/log';
    installCrashHandlers(createLogger({ service: 'crash-test' }), 'crash-test');
    ${failure}
  `;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', program], { cwd: path.dirname(fileURLToPath(import.meta.url)) }, (err, stdout) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout });
    });
  });
}

function fatalLine(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const fatal = lines.find((l) => l['level'] === 'fatal');
  assert.ok(fatal, `no fatal line in: ${stdout}`);
  return fatal;
}

test('an unhandled rejection is logged at fatal with its stack, then the process exits with CRASH_EXIT_CODE', async () => {
  const { code, stdout } = await runCrashing(`Promise.reject(new Error('boom from a promise nobody awaited'));`);
  assert.equal(code, CRASH_EXIT_CODE);
  const fatal = fatalLine(stdout);
  assert.equal(fatal['origin'], 'unhandledRejection');
  const err = fatal['err'] as { message: string; stack: string };
  assert.equal(err.message, 'boom from a promise nobody awaited');
  assert.match(err.stack, /at /);
});

test('an uncaught exception is logged at fatal with its stack, then the process exits with CRASH_EXIT_CODE', async () => {
  const { code, stdout } = await runCrashing(`setTimeout(() => { throw new TypeError('boom from a timer'); }, 1);`);
  assert.equal(code, CRASH_EXIT_CODE);
  const fatal = fatalLine(stdout);
  assert.equal(fatal['origin'], 'uncaughtException');
  assert.equal((fatal['err'] as { type: string }).type, 'TypeError');
});

test('a rejection with a value that is not an Error is still logged', async () => {
  const { code, stdout } = await runCrashing(`Promise.reject('a bare string');`);
  assert.equal(code, CRASH_EXIT_CODE);
  assert.match((fatalLine(stdout)['err'] as { message: string }).message, /a bare string/);
});
