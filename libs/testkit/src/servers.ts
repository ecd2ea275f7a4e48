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

/** A server certificate (PEM files) for a test server's TLS listener. */
export interface ServerTls {
  certFile: string;
  keyFile: string;
}

export interface RedisServerOptions {
  notifyKeyspaceEvents?: string;
  port?: number;
  extraArgs?: readonly string[];
  /** A Redis ACL file (`--aclfile`): users, passwords, key and channel patterns. */
  aclFile?: string;
  /** Serve TLS only (`--tls-port`, no plain port; clients are not asked for certificates): the URL is `rediss://`. */
  tls?: ServerTls;
  /** Keep the server's log in this file (default: none). */
  logFile?: string;
  /**
   * Keep the data in this folder with the append-only file (`--dir`, `appendonly yes`), as
   * docs/operations.md asks of production: a server started again on it has everything back.
   * Default: nothing on disk.
   */
  dataDir?: string;
}

/** Starts a private redis-server on a random loopback port (nothing on disk unless `dataDir`). */
export async function startRedis(options: RedisServerOptions = {}): Promise<RunningServer> {
  const port = options.port ?? (await freeTcpPort());
  const listen = options.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', options.tls.certFile, '--tls-key-file', options.tls.keyFile, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  // Without a data folder, a folder of its own all the same: a replica's full sync writes dump.rdb into
  // the working folder, which the next server started there would load.
  const scratch = options.dataDir === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-redis-')) : undefined;
  const persistence = options.dataDir !== undefined
    ? ['--dir', options.dataDir, '--appendonly', 'yes', '--appendfsync', 'always']
    : ['--dir', scratch!, '--appendonly', 'no'];
  const args = ['--bind', '127.0.0.1', ...listen, '--save', '', ...persistence, '--logfile', options.logFile ?? ''];
  if (options.notifyKeyspaceEvents !== undefined) args.push('--notify-keyspace-events', options.notifyKeyspaceEvents);
  if (options.aclFile !== undefined) args.push('--aclfile', options.aclFile);
  args.push(...(options.extraArgs ?? []));
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'ignore'] });
  reapOnExit(child);
  await waitFor(`redis-server on ${port}`, () => child.exitCode !== null || tcpOpen(port), 10_000);
  if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} (a bad --aclfile or TLS file?)${options.logFile ? `: see ${options.logFile}` : ''}`);
  const removeScratch = (): void => {
    if (scratch !== undefined) fs.rmSync(scratch, { recursive: true, force: true });
  };
  return { url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`, port, process: child, stop: stopper(child, removeScratch) };
}

export interface NatsServerOptions {
  port?: number;
  /**
   * Text of a nats-server config file (users, permissions, ...). The listen address, the
   * JetStream folder, TLS and the log file are set on the command line, which wins over it.
   */
  config?: string;
  /** Require TLS from clients with this certificate: the URL is `tls://`. */
  tls?: ServerTls;
  /** Keep the server's log in this file (default: none). */
  logFile?: string;
  /** Extra environment of nats-server: `$NAME` in the config reads it (passwords). */
  env?: Record<string, string>;
}

/** Starts a private nats-server on a random loopback port. */
export async function startNats(options: NatsServerOptions = {}): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsOnce(options);
    } catch (err) {
      // A random port can be taken by another test's server between our probe and nats-server's
      // bind: pick another one (never when the caller asked for this port).
      const portRace = err instanceof NatsStartError && /address already in use/i.test(err.serverOutput);
      if (!portRace || options.port !== undefined || attempt >= NATS_START_PORT_ATTEMPTS) throw err;
    }
  }
}

/** Ports tried when nats-server finds its random port taken (see startNats). */
export const NATS_START_PORT_ATTEMPTS = 3;
/** Characters of nats-server's own output quoted in a start failure. */
const NATS_OUTPUT_QUOTED_CHARS = 2_000;

/** nats-server exited before it listened; `serverOutput` is the end of what it printed or logged. */
export class NatsStartError extends Error {
  constructor(
    message: string,
    readonly serverOutput: string,
  ) {
    super(message);
  }
}

async function startNatsOnce(options: NatsServerOptions): Promise<RunningServer> {
  const port = options.port ?? (await freeTcpPort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port), '-sd', dir];
  if (options.config !== undefined) {
    const file = path.join(dir, 'nats-server.conf');
    fs.writeFileSync(file, options.config);
    args.push('-c', file);
  }
  if (options.tls) args.push('--tls', '--tlscert', options.tls.certFile, '--tlskey', options.tls.keyFile);
  if (options.logFile !== undefined) args.push('-l', options.logFile);
  const child = spawn('nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  reapOnExit(child);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-NATS_OUTPUT_QUOTED_CHARS);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  await waitFor(`nats-server on ${port}`, () => child.exitCode !== null || tcpOpen(port), 10_000);
  if (child.exitCode !== null) {
    await new Promise<void>((resolve) => (child.stdout!.readableEnded && child.stderr!.readableEnded ? resolve() : child.once('close', () => resolve())));
    let logged = '';
    if (options.logFile !== undefined) {
      try {
        logged = fs.readFileSync(options.logFile, 'utf8').slice(-NATS_OUTPUT_QUOTED_CHARS);
      } catch {
        // No log written.
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    const said = `${output}${logged}`.trim();
    throw new NatsStartError(`nats-server on port ${port} exited with ${child.exitCode}${said ? `: ${said}` : ' (a bad config?)'}`, said);
  }
  return {
    url: `${options.tls ? 'tls' : 'nats'}://127.0.0.1:${port}`,
    port,
    process: child,
    stop: stopper(child, () => fs.rmSync(dir, { recursive: true, force: true })),
  };
}
