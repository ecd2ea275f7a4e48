export { createMetricsRegistry, renderMetrics, METRIC_PREFIX, type Registry } from './registry.js';
export { statusClassOf, type StatusClass } from './status-class.js';
export { addBusGauges, type BusStateSource } from './bus-gauges.js';
export { addCertificateExpiry, type CertificateExpiry } from './certificate-expiry.js';
export { addRelayMetrics, type RelayStateSource } from './relay-metrics.js';
export { IngressMetrics, REQUEST_DURATION_BUCKETS_SECONDS, type RequestSample, type IngressStateSource, type FallbackKind } from './ingress-metrics.js';
export { addHubMetrics, addTransportTotals, type HubStateSource, type TransportSample, type TransportTotals } from './hub-metrics.js';
export { CertManagerMetrics, type OrderOutcome } from './cert-manager-metrics.js';
export { AgentMetrics } from './agent-metrics.js';
