import { ReplyError } from 'ioredis';

/**
 * The error code of a Redis error reply: its first word, by protocol (RESP "simple errors",
 * e.g. `WRONGPASS`, `NOPERM`, `NOSCRIPT`); undefined for anything that is not an error reply.
 */
export function redisErrorCode(err: unknown): string | undefined {
  if (!(err instanceof ReplyError)) return undefined;
  const word = /^[A-Z]+/.exec(String((err as Error).message));
  return word?.[0];
}

/**
 * Whether Redis refused the login: `WRONGPASS` (wrong password, unknown or disabled user) or
 * `NOAUTH` (the server needs a password and none was given).
 */
export function isRedisLoginRefusal(err: unknown): boolean {
  const code = redisErrorCode(err);
  return code === 'WRONGPASS' || code === 'NOAUTH';
}

/** Whether an ACL refused a command, a key or a channel (`NOPERM`). */
export function isRedisPermissionRefusal(err: unknown): boolean {
  return redisErrorCode(err) === 'NOPERM';
}
