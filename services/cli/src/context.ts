import type { Redis } from 'ioredis';
import type { RedisKeys } from '@hopgate/keys';

export interface Output {
  write(text: string): unknown;
}

/** What every command gets. */
export interface CommandContext {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  readonly stdout: Output;
  readonly stderr: Output;
}
