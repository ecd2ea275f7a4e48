import { HubRegistry, SessionStore } from '@hopgate/sessions';
import type { CommandContext } from '../context.js';
import { columns } from '../columns.js';

function ttl(ms: number): string {
  return ms < 0 ? 'none' : `${(ms / 1000).toFixed(1)}s`;
}

export async function sessionList(ctx: CommandContext): Promise<void> {
  const sessions = await new SessionStore(ctx.redis, ctx.keys).list();
  if (sessions.length === 0) return;
  ctx.stdout.write(
    columns([
      ['CLIENT', 'HUB', 'EPOCH', 'CONNECTED_AT', 'REMOTE', 'TTL'],
      ...sessions.map((s) => [s.clientId, s.hubId, String(s.epoch), new Date(s.connectedAt).toISOString(), s.remote, ttl(s.ttlMs)]),
    ]),
  );
}

export async function hubList(ctx: CommandContext): Promise<void> {
  const hubs = await new HubRegistry(ctx.redis, ctx.keys).list();
  if (hubs.length === 0) return;
  ctx.stdout.write(
    columns([
      ['HUB', 'DTLS_LISTEN', 'STARTED_AT', 'TTL'],
      ...hubs.map((h) => [h.hubId, h.dtlsListen, new Date(h.startedAt).toISOString(), ttl(h.ttlMs)]),
    ]),
  );
}
