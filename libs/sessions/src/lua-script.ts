import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ReplyError } from 'ioredis';

/**
 * A Lua script run with EVALSHA, falling back to EVAL once when the server does not have
 * it cached (after a restart or SCRIPT FLUSH). Does not touch the caller's client.
 */
export class LuaScript {
  readonly sha1: string;

  /**
   * `readOnly`: run with EVALSHA_RO / EVAL_RO (Redis 7), so an ACL user that may only read
   * (the ingress) can run it, and it may go to a replica; the script must not write.
   */
  constructor(
    readonly source: string,
    readonly options: { readOnly?: boolean } = {},
  ) {
    this.sha1 = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const ro = this.options.readOnly === true;
    try {
      if (ro) return await redis.call('EVALSHA_RO', this.sha1, keys.length, ...keys, ...args);
      return await redis.evalsha(this.sha1, keys.length, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      if (ro) return redis.call('EVAL_RO', this.source, keys.length, ...keys, ...args);
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** A RESP error's first word is its error code by protocol; `NOSCRIPT` means "send the source". */
function isNoScript(err: unknown): boolean {
  return err instanceof ReplyError && String((err as Error).message).startsWith('NOSCRIPT');
}
