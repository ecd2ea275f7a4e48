import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import { READY, notReady, type Readiness } from './readiness.js';

/** Link state of the NATS connections made by connectNats, kept up to date by its status watcher. */
const natsLinks = new WeakMap<NatsConnection, { connected: boolean }>();

/** Records a NATS connection's link state (connectNats's watcher calls it). */
export function setNatsLinkState(nc: NatsConnection, connected: boolean): void {
  const link = natsLinks.get(nc);
  if (link) link.connected = connected;
  else natsLinks.set(nc, { connected });
}

/** `redis` connected, or not yet made (`waiting for redis`), or lost (`redis disconnected`). */
export function redisReadiness(redis: Redis | undefined): Readiness {
  if (!redis) return notReady('waiting for redis');
  return redis.status === 'ready' ? READY : notReady('redis disconnected');
}

/** `nc` connected, or not yet made (`waiting for nats`), or lost (`nats disconnected`). */
export function natsReadiness(nc: NatsConnection | undefined): Readiness {
  if (!nc) return notReady('waiting for nats');
  if (nc.isClosed()) return notReady('nats connection closed');
  return natsLinks.get(nc)?.connected === false ? notReady('nats disconnected') : READY;
}
