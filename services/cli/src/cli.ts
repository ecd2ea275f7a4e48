import { parseArgs } from 'node:util';
import { loadCliConfig, redactUrl, type CliConfig } from '@hopgate/config';
import { errorMessageOf } from '@hopgate/errors';
import { RedisKeys } from '@hopgate/keys';
import type { CommandContext, Output } from './context.js';
import { connectRedis } from './redis-connection.js';
import { checkClientId, clientAdd, clientList, clientRemove } from './commands/client.js';
import { parseHostArg, parseRouteArgs, routeList, routeRemove, routeSet } from './commands/route.js';
import { hubList, sessionList } from './commands/session.js';
import { fallbackPage, fallbackRemove, fallbackSet, pageValue, parseFallbackArgs, parsePageOptions } from './commands/fallback.js';
import { certList, certRemove, certRenew, parseCertNameArg } from './commands/cert.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, USAGE, UsageError } from './usage.js';

export interface CliIo {
  stdout: Output;
  stderr: Output;
  /** Default: loadCliConfig() (HOPGATE_REDIS_URL, HOPGATE_REDIS_CA_FILE, HOPGATE_REDIS_PREFIX). */
  config?: () => CliConfig;
}

type Command = (ctx: CommandContext) => Promise<void>;

function arity(positionals: readonly string[], min: number, max: number, usage: string): void {
  if (positionals.length < min || positionals.length > max) throw new UsageError(`usage: hopgate ${usage}`);
}

/** Turns argv into a command, or throws UsageError. Nothing here touches Redis. */
function resolve(args: readonly string[]): Command | 'help' {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      replace: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      status: { type: 'string' },
      'content-type': { type: 'string' },
      'body-file': { type: 'string' },
      'retry-after': { type: 'string' },
    },
  });
  if (values.help || positionals[0] === 'help') return 'help';
  const [noun, verb, ...rest] = positionals;
  if (values.replace && !(noun === 'client' && verb === 'add')) throw new UsageError('--replace only goes with "client add"');
  const pageOptions = { status: values.status, contentType: values['content-type'], bodyFile: values['body-file'], retryAfter: values['retry-after'] };
  const isFallbackPage = noun === 'route' && verb === 'fallback' && rest[0] === 'page';
  if (!isFallbackPage && Object.values(pageOptions).some((v) => v !== undefined)) {
    throw new UsageError('--status, --content-type, --body-file and --retry-after only go with "route fallback page"');
  }
  switch (`${noun ?? ''} ${verb ?? ''}`) {
    case 'client add': {
      arity(rest, 1, 1, 'client add <id> [--replace]');
      const id = checkClientId(rest[0]!);
      return (ctx) => clientAdd(ctx, id, values.replace === true);
    }
    case 'client rm': {
      arity(rest, 1, 1, 'client rm <id>');
      const id = checkClientId(rest[0]!);
      return (ctx) => clientRemove(ctx, id);
    }
    case 'client ls':
      arity(rest, 0, 0, 'client ls');
      return clientList;
    case 'route set': {
      arity(rest, 3, 3, 'route set <host> <path> <client>/<service>');
      const route = parseRouteArgs(rest[0]!, rest[1]!, rest[2]!);
      return (ctx) => routeSet(ctx, route);
    }
    case 'route rm':
      arity(rest, 1, 2, 'route rm <host> [<path>]');
      return (ctx) => routeRemove(ctx, rest[0]!, rest[1]);
    case 'route ls': {
      arity(rest, 0, 1, 'route ls [<host>]');
      const host = rest[0] === undefined ? undefined : parseHostArg(rest[0]);
      return (ctx) => routeList(ctx, host);
    }
    case 'route fallback':
      return resolveFallback(rest, pageOptions);
    case 'session ls':
      arity(rest, 0, 0, 'session ls');
      return sessionList;
    case 'cert ls':
      arity(rest, 0, 0, 'cert ls');
      return certList;
    case 'cert renew': {
      arity(rest, 1, 1, 'cert renew <name>');
      const name = parseCertNameArg(rest[0]!);
      return (ctx) => certRenew(ctx, name);
    }
    case 'cert rm': {
      arity(rest, 1, 1, 'cert rm <name>');
      const name = parseCertNameArg(rest[0]!);
      return (ctx) => certRemove(ctx, name);
    }
    case 'hub ls':
      arity(rest, 0, 0, 'hub ls');
      return hubList;
    default:
      throw new UsageError(noun === undefined ? 'no command given' : `unknown command "${positionals.slice(0, 2).join(' ')}"`);
  }
}

/** `route fallback set|page|rm ...` */
function resolveFallback(args: readonly string[], pageOptions: Parameters<typeof parsePageOptions>[1]): Command {
  const [verb, ...rest] = args;
  switch (verb) {
    case 'set': {
      arity(rest, 3, 3, 'route fallback set <host> <path> <client>/<service>|page:<name>');
      const entry = parseFallbackArgs(rest[0]!, rest[1]!, rest[2]!);
      return (ctx) => fallbackSet(ctx, entry);
    }
    case 'page': {
      arity(rest, 3, 3, 'route fallback page <host> <path> <name> [--body-file F [--status N] [--content-type T] [--retry-after S]]');
      const entry = parseFallbackArgs(rest[0]!, rest[1]!, pageValue(rest[2]!));
      const page = parsePageOptions(rest[2]!, pageOptions);
      return (ctx) => fallbackPage(ctx, entry, page);
    }
    case 'rm':
      arity(rest, 1, 2, 'route fallback rm <host> [<path>]');
      return (ctx) => fallbackRemove(ctx, rest[0]!, rest[1]);
    default:
      throw new UsageError(verb === undefined ? 'usage: hopgate route fallback set|page|rm ...' : `unknown command "route fallback ${verb}"`);
  }
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage error). */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  let command: Command | 'help';
  try {
    command = resolve(args);
  } catch (err) {
    // parseArgs reports unknown options and the like with ERR_PARSE_ARGS_* codes.
    const code = (err as { code?: unknown }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      io.stderr.write(`hopgate: ${errorMessageOf(err)}\nRun "hopgate help" for usage.\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (command === 'help') {
    io.stdout.write(USAGE);
    return EXIT_OK;
  }
  let ctx: CommandContext | undefined;
  try {
    const config = (io.config ?? loadCliConfig)();
    // A new user's shell often lacks HOPGATE_REDIS_URL: name the Redis rather than list another one's (empty) tables.
    if (config.redisUrlIsDefault) io.stderr.write(`hopgate: using Redis at ${redactUrl(config.redisUrl)} (the default; set HOPGATE_REDIS_URL to choose another)\n`);
    const redis = await connectRedis(config);
    ctx = { redis, keys: new RedisKeys(config.redisPrefix), stdout: io.stdout, stderr: io.stderr };
    await command(ctx);
    return EXIT_OK;
  } catch (err) {
    io.stderr.write(`hopgate: ${errorMessageOf(err)}\n`);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    ctx?.redis.disconnect();
  }
}
