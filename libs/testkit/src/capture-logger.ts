import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@hopgate/log';

/**
 * A real pino logger (the services' own factory) whose JSON lines land in `lines`, parsed, for
 * assertions on what a component logs. `level` defaults to `debug`.
 */
export function captureLogger(level = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text.trim() !== '') lines.push(JSON.parse(text) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ service: 'test', level, destination }), lines };
}
