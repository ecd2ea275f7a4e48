import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeTcpPort, tcpOpen } from './ports.js';
import { waitFor } from './wait.js';
import { reapOnExit } from './child-reaper.js';

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess, cleanup?: () => void): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    cleanup?.();
  };
}

/** Starts a private redis-server on a random loopback port (nothing on disk). */
export async function startRedis(
  options: { notifyKeyspaceEvents?: string; port?: number; extraArgs?: readonly string[] } = {},
): Promise<RunningServer> {
  const port = options.port ?? (await freeTcpPort());
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--logfile', ''];
  if (options.notifyKeyspaceEvents !== undefined) args.push('--notify-keyspace-events', options.notifyKeyspaceEvents);
  args.push(...(options.extraArgs ?? []));
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'ignore'] });
  reapOnExit(child);
  await waitFor(`redis-server on ${port}`, () => tcpOpen(port), 10_000);
  return { url: `redis://127.0.0.1:${port}`, port, process: child, stop: stopper(child) };
}

/** Starts a private nats-server on a random loopback port. */
export async function startNats(options: { port?: number } = {}): Promise<RunningServer> {
  const port = options.port ?? (await freeTcpPort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-nats-'));
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: ['ignore', 'ignore', 'ignore'] });
  reapOnExit(child);
  await waitFor(`nats-server on ${port}`, () => tcpOpen(port), 10_000);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: child,
    stop: stopper(child, () => fs.rmSync(dir, { recursive: true, force: true })),
  };
}
