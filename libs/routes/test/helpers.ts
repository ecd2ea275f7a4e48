import { startRedis } from '@hopgate/testkit';
import type { RedisConnectionConfig } from '@hopgate/config';


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
