import { CertStore, type CertRecord } from '@hopgate/certs';
import { certNameProblem } from '@hopgate/config';
import type { CommandContext } from '../context.js';
import { columns } from '../columns.js';
import { CommandFailed, UsageError } from '../usage.js';

/** Shown in a column that has no value. */
const NONE = '-';

/** A certificate name argument (an exact DNS name or a `*.` wildcard), folded to lower case; else a UsageError. */
export function parseCertNameArg(raw: string): string {
  const name = raw.toLowerCase();
  const problem = name.startsWith('*.') ? certNameProblem(name.slice(2)) : certNameProblem(name);
  if (problem !== undefined) throw new UsageError(`invalid certificate name ${JSON.stringify(raw)}: ${problem}`);
  return name;
}

function time(ms: number | undefined): string {
  return ms === undefined ? NONE : new Date(ms).toISOString();
}

function row(r: CertRecord): string[] {
  return [r.name, r.status, time(r.notAfter), time(r.renewAt), r.issuer ?? NONE, r.lastError ?? NONE];
}

/** `cert ls`: every certificate record; a malformed one is listed with status `malformed` and its reason. */
export async function certList(ctx: CommandContext): Promise<void> {
  const { records, problems } = await new CertStore(ctx.redis, ctx.keys).list();
  const rows = [
    ...records.map(row),
    ...problems.map((p) => [p.name, 'malformed', NONE, NONE, NONE, p.reason]),
  ].sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  ctx.stdout.write(columns([['NAME', 'STATUS', 'NOT_AFTER', 'RENEW_AT', 'ISSUER', 'LAST_ERROR'], ...rows]));
}

/** `cert renew <name>`: sets `renew_at` in the past; the cert-manager's next renewal pass orders a new certificate. */
export async function certRenew(ctx: CommandContext, name: string): Promise<void> {
  if (!(await new CertStore(ctx.redis, ctx.keys).forceRenewal(name))) throw new CommandFailed(`no certificate record for ${name}`);
  ctx.stderr.write(`renewal of ${name} is due now: the cert-manager orders a new certificate at its next renewal pass (HOPGATE_ACME_RENEW_CHECK_INTERVAL_MS)\n`);
}

/** `cert rm <name>`: deletes the record (certificate and key); a name still wanted gets a new certificate at the next pass. */
export async function certRemove(ctx: CommandContext, name: string): Promise<void> {
  if ((await ctx.redis.del(ctx.keys.cert(name))) === 0) throw new CommandFailed(`no certificate record for ${name}`);
  ctx.stderr.write(`removed the certificate record of ${name} (a name still routed or configured is issued again)\n`);
}
