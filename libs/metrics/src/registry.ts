import { Registry, collectDefaultMetrics } from 'prom-client';

/** Prefix of every HopGate metric (prom-client's default process metrics keep their own names). */
export const METRIC_PREFIX = 'hopgate_';

/**
 * The one registry of a process: prom-client's default process metrics (CPU, memory, event
 * loop lag, handles, GC) plus whatever the service adds. Never prom-client's global registry:
 * two services in one test process must not share counters.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** The Prometheus text exposition of `registry` and its content type (text format 0.0.4). */
export async function renderMetrics(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

export type { Registry } from 'prom-client';
