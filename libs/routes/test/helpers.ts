import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@hopgate/log';
import { startRedis } from '@hopgate/testkit';
import type { RedisConnectionConfig } from '@hopgate/config';

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

/** A redis-server on a given port with extra arguments; `stop` kills it (SIGKILL), as a crash would. */
export async function redisOnPort(port: number, extraArgs: string[] = []): Promise<{ stop(): Promise<void> }> {
  const server = await startRedis({ port, extraArgs });
  return {
    async stop() {
      const child = server.process;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The connection settings of a plain redis:// server (what a service passes from its config). */
export function redisAt(redisUrl: string): RedisConnectionConfig {
  return { redisUrl, redisCaFile: undefined };
}
