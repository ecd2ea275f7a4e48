import { spawn } from 'node:child_process';
import net from 'node:net';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@hopgate/log';
import { waitFor } from '@hopgate/testkit';

/** A logger whose JSON lines are kept in `lines` for assertions. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text) lines.push(JSON.parse(text) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ service: 'test', level: 'debug', destination }), lines };
}

function tcpReady(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** A redis-server on a given port with extra arguments (testkit's startRedis picks its own port). */
export async function redisOnPort(port: number, extraArgs: string[] = []): Promise<{ stop(): Promise<void> }> {
  const child = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--logfile', '', ...extraArgs],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitFor(`redis-server on ${port}`, () => tcpReady(port), 10_000);
  return {
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
