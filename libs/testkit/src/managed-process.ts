import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { waitFor } from './wait.js';
import { reapOnExit } from './child-reaper.js';

/** One JSON log record of a HopGate service (pino). */
export type LogRecord = Record<string, unknown> & { msg?: string; level?: string };

/**
 * A child process whose stdout is HopGate's JSON log: kept in memory for assertions
 * and copied to `logFile` for people.
 */
export class ManagedProcess {
  readonly records: LogRecord[] = [];
  readonly child: ChildProcess;
  private stderrText = '';
  private outputClosed = false;

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    env: Record<string, string>,
    logFile: string,
    cwd?: string,
  ) {
    const out = fs.createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd });
    reapOnExit(this.child);
    let partial = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      out.write(chunk);
      partial += chunk.toString('utf8');
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        try {
          this.records.push(JSON.parse(line) as LogRecord);
        } catch {
          this.records.push({ msg: line });
        }
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      out.write(chunk);
      this.stderrText += chunk.toString('utf8');
    });
    this.child.once('exit', () => out.end());
    this.child.once('close', () => {
      this.outputClosed = true;
    });
  }

  /** The OS process id (for /proc sampling); throws if the spawn failed. */
  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid (spawn failed)`);
    return this.child.pid;
  }

  get stderr(): string {
    return this.stderrText;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Waits until a log record satisfies `match` (searching from record `from`). */
  async waitForLog(what: string, match: (r: LogRecord) => boolean, timeoutMs = 15_000, from = 0): Promise<LogRecord> {
    return waitFor(
      `${this.name}: ${what}`,
      () => {
        for (let i = from; i < this.records.length; i++) if (match(this.records[i]!)) return this.records[i]!;
        // Only once its output is fully read (stdio closed) does an exited process say no.
        if (this.outputClosed) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderrText.slice(-500)}`);
        return undefined;
      },
      timeoutMs,
    );
  }

  countLogs(match: (r: LogRecord) => boolean): number {
    return this.records.filter(match).length;
  }

  /** Graceful stop (SIGTERM), then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }

  /** Abrupt death (SIGKILL), as a crash or an OOM kill would look. */
  async kill(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGKILL');
    await exited;
  }
}
