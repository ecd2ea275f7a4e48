import { Counter, type Registry } from 'prom-client';

/**
 * `outcome` label values of `hopgate_certmanager_orders_total`: what one order job ended in.
 * `issued` a certificate was issued; `not_needed` the name had a current certificate (checked
 * again under the lock); `not_wanted` the name left the routes; `failed` the ACME order failed
 * (retried with backoff); `handed_back` the replica was draining and gave the job back.
 */
export type OrderOutcome = 'issued' | 'not_needed' | 'not_wanted' | 'failed' | 'handed_back';

/** cert-manager metrics: orders by outcome (counted where the job ends). */
export class CertManagerMetrics {
  private readonly orders: Counter<'outcome'>;

  constructor(registry: Registry) {
    this.orders = new Counter({
      name: 'hopgate_certmanager_orders_total',
      help: 'Certificate order jobs run by this cert-manager, by outcome (issued, not_needed, not_wanted, failed, handed_back).',
      labelNames: ['outcome'],
      registers: [registry],
    });
    // Every outcome from the first scrape on, so that rate() and absent() work before the first order.
    for (const outcome of ['issued', 'not_needed', 'not_wanted', 'failed', 'handed_back'] as const) this.orders.inc({ outcome }, 0);
  }

  order(outcome: OrderOutcome): void {
    this.orders.inc({ outcome });
  }
}
