import { Counter, Gauge, type Registry } from 'prom-client';

/** The relay endpoint of this process (RelayClient on the ingress, RelayServer on the hub). */
export interface RelayStateSource {
  /** Times a writer waited for the peer's CREDIT (monotonic). */
  readonly creditStalls: number;
  /** Relay streams open now. */
  readonly streamCount: number;
}

/**
 * `hopgate_relay_credit_stalls_total` and `hopgate_relay_streams`, read at scrape time from the
 * relay endpoint (`relay()` is undefined before the service started).
 */
export function addRelayMetrics(registry: Registry, relay: () => RelayStateSource | undefined): void {
  new Counter({
    name: 'hopgate_relay_credit_stalls_total',
    help: 'Times a relay stream writer on this process waited for the peer\'s flow-control credit (NATS leg).',
    registers: [registry],
    collect() {
      // The endpoint keeps the monotonic count; the counter mirrors it.
      this.reset();
      this.inc(relay()?.creditStalls ?? 0);
    },
  });
  new Gauge({
    name: 'hopgate_relay_streams',
    help: 'Relay streams (requests in flight on the NATS leg) open on this process.',
    registers: [registry],
    collect() {
      this.set(relay()?.streamCount ?? 0);
    },
  });
}
