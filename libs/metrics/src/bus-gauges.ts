import { Gauge, type Registry } from 'prom-client';

/** Where the connection state comes from: true connected, false not (or not made yet). */
export interface BusStateSource {
  redisConnected?(): boolean;
  natsConnected?(): boolean;
}

/**
 * `hopgate_redis_connected` and `hopgate_nats_connected`: 1 while the process's connection is
 * up, 0 otherwise (not yet made, lost, closed). Read at scrape time from the connections' own state.
 */
export function addBusGauges(registry: Registry, source: BusStateSource): void {
  const { redisConnected, natsConnected } = source;
  if (redisConnected) {
    new Gauge({
      name: 'hopgate_redis_connected',
      help: '1 while this process is connected to Redis, else 0.',
      registers: [registry],
      collect() {
        this.set(redisConnected() ? 1 : 0);
      },
    });
  }
  if (natsConnected) {
    new Gauge({
      name: 'hopgate_nats_connected',
      help: '1 while this process is connected to NATS, else 0.',
      registers: [registry],
      collect() {
        this.set(natsConnected() ? 1 : 0);
      },
    });
  }
}
