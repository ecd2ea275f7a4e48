import { ID_PATTERN } from '@hopgate/config';
import { ClientStore } from '@hopgate/sessions';
import type { CommandContext } from '../context.js';
import { columns } from '../columns.js';
import { CommandFailed, UsageError } from '../usage.js';

/** The id, if it matches ID_PATTERN; else a UsageError. */
export function checkClientId(id: string): string {
  if (!ID_PATTERN.test(id)) throw new UsageError(`client id ${JSON.stringify(id)} must match ${ID_PATTERN}`);
  return id;
}

/** `client add <id> [--replace]`: the token goes to stdout alone (for `TOKEN=$(hopgate client add x)`). */
export async function clientAdd(ctx: CommandContext, id: string, replace: boolean): Promise<void> {
  const store = new ClientStore(ctx.redis, ctx.keys);
  const exists = (await ctx.redis.exists(ctx.keys.client(id))) === 1;
  if (exists && !replace) throw new CommandFailed(`client ${id} already exists (use --replace to give it a new token)`);
  const token = await store.add(id, { replace });
  ctx.stdout.write(`${token}\n`);
  ctx.stderr.write(
    `${exists ? 'new token for' : 'added'} client ${id}. The token (stdout) is shown only this once: keep it in a file for hopgate-agent --token-file (or HOPGATE_AGENT_TOKEN, or "token" in an agent config file).\n`,
  );
}

export async function clientRemove(ctx: CommandContext, id: string): Promise<void> {
  const removed = await new ClientStore(ctx.redis, ctx.keys).remove(id);
  if (!removed) throw new CommandFailed(`no client ${id}`);
  ctx.stderr.write(`removed client ${id}\n`);
}

/** `client ls`: a CLIENT header, then one id per line (the header also when there is none). */
export async function clientList(ctx: CommandContext): Promise<void> {
  ctx.stdout.write(columns([['CLIENT'], ...(await new ClientStore(ctx.redis, ctx.keys).list()).map((id) => [id])]));
}
