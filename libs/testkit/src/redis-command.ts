import net from 'node:net';

/** Longest wait for one command's reply, in ms. */
export const REDIS_COMMAND_TIMEOUT_MS = 5_000;

/**
 * Sends one command to a plain (no TLS, no login) Redis on 127.0.0.1:`port` over a fresh
 * connection and resolves with the first line of its reply (`:1`, `+OK`, `$5`...); an error
 * reply (`-ERR ...`) rejects. What `redis-cli` does for an operator, without a process start,
 * so a benchmark can time the write itself.
 */
export function redisCommand(port: number, args: readonly string[]): Promise<string> {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => socket.destroy(new Error(`no Redis reply within ${REDIS_COMMAND_TIMEOUT_MS} ms`)), REDIS_COMMAND_TIMEOUT_MS);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      socket.end();
      const line = text.slice(0, end);
      if (line.startsWith('-')) reject(new Error(`Redis: ${line.slice(1)}`));
      else resolve(line);
    });
    socket.write(parts.join(''));
  });
}
