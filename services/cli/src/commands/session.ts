import { HubRegistry, InstanceStore, SessionStore } from '@hopgate/sessions';
import type { CommandContext } from '../context.js';
import { columns } from '../columns.js';

function ttl(ms: number): string {
  return ms < 0 ? 'none' : `${(ms / 1000).toFixed(1)}s`;
}

/** Shown in the INSTANCE column of a session recorded without instances (a hub from before replicas). */
const NO_INSTANCE = '-';

/**
 * One line per live agent instance (replica) of each client, from `hopgate:instance:*`; a
 * client with only the client-wide `hopgate:session:<id>` record (a hub from before replicas)
 * gets one line with INSTANCE `-`. INSTANCE is the last column, so the others keep their places.
 */
export async function sessionList(ctx: CommandContext): Promise<void> {
  const [instances, sessions] = await Promise.all([new InstanceStore(ctx.redis, ctx.keys).list(), new SessionStore(ctx.redis, ctx.keys).list()]);
  const withInstances = new Set(instances.map((i) => i.clientId));
  const rows = [
    ...instances.map((i) => ({ ...i, instance: i.instanceId })),
    ...sessions.filter((s) => !withInstances.has(s.clientId)).map((s) => ({ ...s, instance: NO_INSTANCE })),
  ].sort((a, b) => (a.clientId === b.clientId ? a.instance.localeCompare(b.instance) : a.clientId.localeCompare(b.clientId)));
  ctx.stdout.write(
    columns([
      ['CLIENT', 'HUB', 'EPOCH', 'CONNECTED_AT', 'REMOTE', 'TTL', 'INSTANCE'],
      ...rows.map((s) => [s.clientId, s.hubId, String(s.epoch), new Date(s.connectedAt).toISOString(), s.remote, ttl(s.ttlMs), s.instance]),
    ]),
  );
}

export async function hubList(ctx: CommandContext): Promise<void> {
  const hubs = await new HubRegistry(ctx.redis, ctx.keys).list();
  ctx.stdout.write(
    columns([
      ['HUB', 'DTLS_LISTEN', 'STARTED_AT', 'TTL'],
      ...hubs.map((h) => [h.hubId, h.dtlsListen, new Date(h.startedAt).toISOString(), ttl(h.ttlMs)]),
    ]),
  );
}
