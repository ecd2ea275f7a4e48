import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The log library's built entry (this file is dist/test/turn-buffered-destination.test.js). */
const LOG_ENTRY = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/index.js')).href;

/** Lines logged per turn, turns before the last one. */
const LINES_PER_TURN = 5;
const TURNS = 4;

/**
 * A program that logs LINES_PER_TURN numbered lines in each of TURNS turns, counting the write
 * syscalls of each turn (syscw of /proc/self/io, read after the turn's flush), reports the
 * counts on stderr, then logs one more turn and ends the way `end` says.
 */
function turnsProgram(end: string): string {
  return `
    import fs from 'node:fs';
    import { createLogger } from ${JSON.stringify(LOG_ENTRY)};
    const log = createLogger({ service: 'turns' });
    const writes = () => Number(/syscw:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/io', 'utf8'))[1]);
    const counts = [];
    let seq = 0;
    const turn = (n) => {
      if (n === ${TURNS}) {
        fs.writeSync(2, 'WRITES ' + JSON.stringify(counts) + '\\n');
        for (let i = 0; i < ${LINES_PER_TURN}; i++) log.info({ seq: seq++, pad: 'x'.repeat(100) }, 'last turn');
        ${end}
        return;
      }
      const before = writes();
      for (let i = 0; i < ${LINES_PER_TURN}; i++) log.info({ seq: seq++, turn: n }, 'line');
      // Queued after the destination's own setImmediate: runs right after its flush.
      setImmediate(() => {
        counts.push(writes() - before);
        setTimeout(() => turn(n + 1), 1);
      });
    };
    turn(0);
  `;
}

interface Run {
  code: number | null;
  chunks: string[];
  stderr: string;
}

function run(program: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: string[] = [];
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => chunks.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, chunks, stderr }));
  });
}

/** Every line whole JSON, numbered 0.. in order, all TURNS + 1 turns of them. */
function assertAllLinesInOrder(stdout: string, total: number): Record<string, unknown>[] {
  assert.ok(stdout.endsWith('\n'), 'the output ends with a whole line');
  const lines = stdout.slice(0, -1).split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(lines.length, total);
  lines.forEach((line, i) => assert.equal(line['seq'], i));
  return lines;
}

function writesPerTurn(stderr: string): number[] {
  const match = /WRITES (\[.*\])/.exec(stderr);
  assert.ok(match, `no write counts in: ${stderr}`);
  return JSON.parse(match[1]!) as number[];
}

const TOTAL = (TURNS + 1) * LINES_PER_TURN;

test('stdout destination: the lines of one turn go out in one write; process.exit loses none of the last turn', async () => {
  const { code, chunks, stderr } = await run(turnsProgram('process.exit(3);'));
  assert.equal(code, 3);
  assertAllLinesInOrder(chunks.join(''), TOTAL);
  assert.deepEqual(writesPerTurn(stderr), new Array<number>(TURNS).fill(1));
});

test('stdout destination: an uncaught exception loses none of the lines logged before it', async () => {
  const { code, chunks, stderr } = await run(turnsProgram(`throw new Error('uncaught on purpose');`));
  assert.equal(code, 1);
  assert.match(stderr, /uncaught on purpose/);
  assertAllLinesInOrder(chunks.join(''), TOTAL);
});

test('stdout destination: a fatal line is written at once (before a crash handler exits)', async () => {
  const { code, chunks } = await run(turnsProgram(`
    process.on('uncaughtException', (err) => { log.fatal({ err, seq: seq++ }, 'crashed'); process.reallyExit(70); });
    throw new Error('crash');`));
  assert.equal(code, 70);
  const lines = assertAllLinesInOrder(chunks.join(''), TOTAL + 1);
  assert.equal(lines.at(-1)!['level'], 'fatal');
});

test('stdout destination: a full pipe (EAGAIN) holds the lines without stalling the event loop; they arrive whole and in order; flush(callback) waits for them', async () => {
  // 2,000 lines of ~300 bytes: several times a pipe's 64 KiB, while the parent does not read.
  const lineCount = 2000;
  const program = `
    import { createLogger } from ${JSON.stringify(LOG_ENTRY)};
    const log = createLogger({ service: 'full-pipe' });
    for (let i = 0; i < ${lineCount}; i++) log.info({ seq: i, pad: 'y'.repeat(200) }, 'filler');
    let flushed = false;
    log.flush(() => { flushed = true; });
    // The event loop turns while the pipe is full: the parent is told, and only then reads.
    setImmediate(() => setTimeout(() => process.send({ flushed }), 1));
    process.on('message', () => {
      log.info({ seq: ${lineCount} }, 'after');
      log.flush(() => process.send({ flushed }, () => process.disconnect()));
    });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const out = child.stdout!;
  out.pause();
  let stdout = '';
  out.setEncoding('utf8');
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  const messages: { flushed: boolean }[] = [];
  child.on('message', (message: { flushed: boolean }) => messages.push(message));
  await new Promise((resolve) => child.once('message', resolve));
  out.on('data', (chunk: string) => (stdout += chunk));
  out.resume();
  child.send('go');
  assert.equal(await closed, 0);
  assert.equal(messages[0]!.flushed, false, 'a flush callback waits while the pipe is full');
  assertAllLinesInOrder(stdout, lineCount + 1);
  assert.deepEqual(messages.at(-1), { flushed: true }, 'and is called once the reader took the lines');
});
