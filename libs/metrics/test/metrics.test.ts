import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AgentMetrics,
  CertManagerMetrics,
  IngressMetrics,
  REQUEST_DURATION_BUCKETS_SECONDS,
  addBusGauges,
  addCertificateExpiry,
  addHubMetrics,
  addRelayMetrics,
  addTransportTotals,
  createMetricsRegistry,
  renderMetrics,
  statusClassOf,
  type RequestSample,
  type TransportSample,
  type TransportTotals,
} from '../src/index.js';
import type { Registry } from 'prom-client';

/** The value of one sample of `name` whose labels include `labels`, or undefined. */
async function valueOf(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name.replace(/_(bucket|count|sum)$/, ''));
  if (!metric) return undefined;
  const data = await metric.get();
  const found = data.values.find(
    (v) => (v as { metricName?: string }).metricName === undefined ? name === data.name && matches(v.labels, labels) : (v as { metricName?: string }).metricName === name && matches(v.labels, labels),
  );
  return found?.value;
}

function matches(have: Record<string, string | number | undefined>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => String(have[k]) === v);
}

function sample(over: Partial<RequestSample>): RequestSample {
  return { status: 200, route: 'app.test/', client: 'c1', durationSeconds: 0.002, requestBytes: 0, responseBytes: 0, retried: false, fallback: undefined, ...over };
}

test('statusClassOf: 1xx..5xx by the hundreds, none for no status or one out of range', () => {
  assert.equal(statusClassOf(101), '1xx');
  assert.equal(statusClassOf(200), '2xx');
  assert.equal(statusClassOf(308), '3xx');
  assert.equal(statusClassOf(404), '4xx');
  assert.equal(statusClassOf(599), '5xx');
  assert.equal(statusClassOf(undefined), 'none');
  assert.equal(statusClassOf(600), 'none');
  assert.equal(statusClassOf(99), 'none');
});

test('IngressMetrics: requests by status class, route and client; bytes, retries and fallbacks; route table size read at scrape time', async () => {
  const registry = createMetricsRegistry();
  let routes: number | undefined;
  const metrics = new IngressMetrics(registry, { routeCount: () => routes });
  for (let i = 0; i < 3; i += 1) metrics.observe(sample({ requestBytes: 10, responseBytes: 100 }));
  metrics.observe(sample({ status: 502, retried: true }));
  metrics.observe(sample({ status: 503, route: 'other.test/api', client: 'c2', fallback: 'page' }));
  metrics.observe(sample({ status: 404, route: '', client: '' }));
  metrics.observe(sample({ status: undefined }));
  assert.equal(await valueOf(registry, 'hopgate_ingress_requests_total', { status_class: '2xx', route: 'app.test/', client: 'c1' }), 3);
  assert.equal(await valueOf(registry, 'hopgate_ingress_requests_total', { status_class: '5xx', route: 'app.test/', client: 'c1' }), 1);
  assert.equal(await valueOf(registry, 'hopgate_ingress_requests_total', { status_class: '5xx', route: 'other.test/api', client: 'c2' }), 1);
  assert.equal(await valueOf(registry, 'hopgate_ingress_requests_total', { status_class: '4xx', route: '', client: '' }), 1);
  assert.equal(await valueOf(registry, 'hopgate_ingress_requests_total', { status_class: 'none' }), 1);
  assert.equal(await valueOf(registry, 'hopgate_ingress_request_bytes_total', { route: 'app.test/', client: 'c1' }), 30);
  assert.equal(await valueOf(registry, 'hopgate_ingress_response_bytes_total', { route: 'app.test/', client: 'c1' }), 300);
  assert.equal(await valueOf(registry, 'hopgate_ingress_retries_total', { route: 'app.test/', client: 'c1' }), 1);
  assert.equal(await valueOf(registry, 'hopgate_ingress_fallbacks_total', { route: 'other.test/api', kind: 'page' }), 1);
  assert.equal(await valueOf(registry, 'hopgate_ingress_routes'), 0, 'no table loaded yet');
  routes = 7;
  assert.equal(await valueOf(registry, 'hopgate_ingress_routes'), 7);
});

test('IngressMetrics: the duration histogram puts each request in its bucket; the +Inf bucket and the count are the number of requests', async () => {
  const registry = createMetricsRegistry();
  const metrics = new IngressMetrics(registry, { routeCount: () => 0 });
  const durations = [0.0005, 0.003, 0.003, 0.2, 4, 120];
  for (const durationSeconds of durations) metrics.observe(sample({ durationSeconds }));
  const route = { route: 'app.test/' };
  assert.equal(await valueOf(registry, 'hopgate_ingress_request_duration_seconds_count', route), durations.length);
  assert.equal(await valueOf(registry, 'hopgate_ingress_request_duration_seconds_bucket', { ...route, le: '+Inf' }), durations.length);
  assert.equal(await valueOf(registry, 'hopgate_ingress_request_duration_seconds_bucket', { ...route, le: '0.001' }), 1);
  assert.equal(await valueOf(registry, 'hopgate_ingress_request_duration_seconds_bucket', { ...route, le: '0.005' }), 3);
  assert.equal(await valueOf(registry, 'hopgate_ingress_request_duration_seconds_bucket', { ...route, le: '0.25' }), 4);
  assert.equal(await valueOf(registry, 'hopgate_ingress_request_duration_seconds_bucket', { ...route, le: '60' }), 5);
  const sum = await valueOf(registry, 'hopgate_ingress_request_duration_seconds_sum', route);
  assert.ok(sum !== undefined && Math.abs(sum - durations.reduce((a, b) => a + b, 0)) < 1e-9);
  assert.deepEqual([...REQUEST_DURATION_BUCKETS_SECONDS].sort((a, b) => a - b), [...REQUEST_DURATION_BUCKETS_SECONDS], 'buckets ascend');
});

test('hub metrics: sessions, instances per client, RTT and window over sessions, packet totals that never go back when a session closes', async () => {
  const registry = createMetricsRegistry();
  const transport = (rttMs: number, cwnd: number, sent: number, retransmitted: number, lost: number): TransportSample => ({
    smoothedRttMs: rttMs,
    congestionWindowBytes: cwnd,
    packetsSent: sent,
    packetsRetransmitted: retransmitted,
    packetsLost: lost,
  });
  const live = [
    { clientId: 'a', transport: transport(10, 10_000, 100, 3, 2) },
    { clientId: 'a', transport: transport(30, 30_000, 50, 1, 1) },
    { clientId: 'b', transport: transport(20, 20_000, 10, 0, 0) },
  ];
  const closed: TransportTotals = { packetsSent: 0, packetsRetransmitted: 0, packetsLost: 0 };
  addHubMetrics(registry, { sessions: () => live, closedTransportTotals: () => closed });
  assert.equal(await valueOf(registry, 'hopgate_hub_agent_sessions'), 3);
  assert.equal(await valueOf(registry, 'hopgate_hub_agent_instances', { client: 'a' }), 2);
  assert.equal(await valueOf(registry, 'hopgate_hub_agent_instances', { client: 'b' }), 1);
  assert.equal(await valueOf(registry, 'hopgate_hub_transport_rtt_seconds', { stat: 'min' }), 0.01);
  assert.equal(await valueOf(registry, 'hopgate_hub_transport_rtt_seconds', { stat: 'avg' }), 0.02);
  assert.equal(await valueOf(registry, 'hopgate_hub_transport_rtt_seconds', { stat: 'max' }), 0.03);
  assert.equal(await valueOf(registry, 'hopgate_hub_transport_congestion_window_bytes', { stat: 'min' }), 10_000);
  assert.equal(await valueOf(registry, 'hopgate_hub_transport_packets_sent_total'), 160);
  assert.equal(await valueOf(registry, 'hopgate_hub_transport_packets_retransmitted_total'), 4);
  // The first session closes: its counters move to the closed totals, the sums stay.
  const gone = live.shift()!;
  addTransportTotals(closed, gone.transport);
  assert.equal(await valueOf(registry, 'hopgate_hub_transport_packets_sent_total'), 160);
  assert.equal(await valueOf(registry, 'hopgate_hub_transport_packets_lost_total'), 3);
  assert.equal(await valueOf(registry, 'hopgate_hub_agent_instances', { client: 'a' }), 1);
  live.length = 0;
  assert.equal(await valueOf(registry, 'hopgate_hub_agent_sessions'), 0);
  assert.equal(await valueOf(registry, 'hopgate_hub_agent_instances', { client: 'a' }), undefined, 'a client with no instance left is no series');
  assert.equal(await valueOf(registry, 'hopgate_hub_transport_rtt_seconds', { stat: 'max' }), undefined, 'no RTT without sessions');
});

test('relay, bus and certificate collectors read their sources at scrape time', async () => {
  const registry = createMetricsRegistry();
  let relay: { creditStalls: number; streamCount: number } | undefined;
  let redisUp = false;
  const certs = new Map<string, number>();
  addRelayMetrics(registry, () => relay);
  addBusGauges(registry, { redisConnected: () => redisUp, natsConnected: () => true });
  addCertificateExpiry(registry, () => [...certs].map(([name, notAfterMs]) => ({ name, notAfterMs })));
  assert.equal(await valueOf(registry, 'hopgate_relay_credit_stalls_total'), 0, 'before the relay started');
  relay = { creditStalls: 5, streamCount: 2 };
  assert.equal(await valueOf(registry, 'hopgate_relay_credit_stalls_total'), 5);
  assert.equal(await valueOf(registry, 'hopgate_relay_streams'), 2);
  assert.equal(await valueOf(registry, 'hopgate_redis_connected'), 0);
  redisUp = true;
  assert.equal(await valueOf(registry, 'hopgate_redis_connected'), 1);
  assert.equal(await valueOf(registry, 'hopgate_nats_connected'), 1);
  certs.set('app.test', Date.UTC(2027, 0, 1, 0, 0, 0, 500));
  assert.equal(await valueOf(registry, 'hopgate_certificate_expiry_timestamp_seconds', { name: 'app.test' }), Date.UTC(2027, 0, 1) / 1000);
  certs.clear();
  assert.equal(await valueOf(registry, 'hopgate_certificate_expiry_timestamp_seconds', { name: 'app.test' }), undefined, 'a name that is gone is no series');
});

test('cert-manager orders: every outcome present at 0 from the start, then counted', async () => {
  const registry = createMetricsRegistry();
  const metrics = new CertManagerMetrics(registry);
  for (const outcome of ['issued', 'not_needed', 'not_wanted', 'failed', 'handed_back']) {
    assert.equal(await valueOf(registry, 'hopgate_certmanager_orders_total', { outcome }), 0, outcome);
  }
  metrics.order('issued');
  metrics.order('failed');
  metrics.order('failed');
  assert.equal(await valueOf(registry, 'hopgate_certmanager_orders_total', { outcome: 'issued' }), 1);
  assert.equal(await valueOf(registry, 'hopgate_certmanager_orders_total', { outcome: 'failed' }), 2);
});

test('agent metrics: requests by status class and service, origin errors by code, session state', async () => {
  const registry = createMetricsRegistry();
  let online = false;
  const metrics = new AgentMetrics(registry, () => online);
  metrics.served('web', 200);
  metrics.served('web', 201);
  metrics.served('web', 500);
  metrics.originError('web', 'ERR_ORIGIN_UNREACHABLE');
  assert.equal(await valueOf(registry, 'hopgate_agent_requests_total', { status_class: '2xx', service: 'web' }), 2);
  assert.equal(await valueOf(registry, 'hopgate_agent_requests_total', { status_class: '5xx', service: 'web' }), 1);
  assert.equal(await valueOf(registry, 'hopgate_agent_origin_errors_total', { service: 'web', code: 'ERR_ORIGIN_UNREACHABLE' }), 1);
  assert.equal(await valueOf(registry, 'hopgate_agent_session_online'), 0);
  online = true;
  assert.equal(await valueOf(registry, 'hopgate_agent_session_online'), 1);
});

test('exposition: Prometheus text with prom-client\'s content type, default process metrics, every HopGate metric prefixed hopgate_', async () => {
  const registry = createMetricsRegistry();
  new IngressMetrics(registry, { routeCount: () => 1 });
  addRelayMetrics(registry, () => undefined);
  const { contentType, body } = await renderMetrics(registry);
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(body, /^# HELP process_cpu_user_seconds_total /m);
  assert.match(body, /^nodejs_eventloop_lag_seconds /m);
  assert.match(body, /^hopgate_ingress_routes 1$/m);
  const names = [...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
  const ours = names.filter((n) => !n.startsWith('process_') && !n.startsWith('nodejs_'));
  assert.ok(ours.length >= 8, `HopGate metrics: ${ours.join(', ')}`);
  for (const name of ours) assert.match(name, /^hopgate_[a-z_]+$/);
});

test('two registries count apart (one per process, never the global one)', async () => {
  const one = createMetricsRegistry();
  const two = createMetricsRegistry();
  new IngressMetrics(one, { routeCount: () => 0 }).observe(sample({}));
  new IngressMetrics(two, { routeCount: () => 0 });
  assert.equal(await valueOf(one, 'hopgate_ingress_requests_total', { status_class: '2xx' }), 1);
  assert.equal(await valueOf(two, 'hopgate_ingress_requests_total', { status_class: '2xx' }), undefined);
});

test('docs/metrics.md and deploy/grafana/hopgate.json name only metrics that exist, and the docs name every one', async () => {
  const { readFileSync } = await import('node:fs');
  const root = new URL('../../../../', import.meta.url);
  const registry = createMetricsRegistry();
  new IngressMetrics(registry, { routeCount: () => 0 });
  addHubMetrics(registry, { sessions: () => [], closedTransportTotals: () => ({ packetsSent: 0, packetsRetransmitted: 0, packetsLost: 0 }) });
  addRelayMetrics(registry, () => undefined);
  addBusGauges(registry, { redisConnected: () => true, natsConnected: () => true });
  addCertificateExpiry(registry, () => []);
  new CertManagerMetrics(registry);
  new AgentMetrics(registry, () => true);
  const defined = new Set(registry.getMetricsAsArray().map((m) => m.name).filter((n) => n.startsWith('hopgate_')));
  const named = (text: string): Set<string> => new Set([...text.matchAll(/hopgate_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')).filter((n) => n !== 'hopgate_'));
  const docs = named(readFileSync(new URL('docs/metrics.md', root), 'utf8'));
  const dashboard = readFileSync(new URL('deploy/grafana/hopgate.json', root), 'utf8');
  JSON.parse(dashboard);
  for (const name of named(dashboard)) assert.ok(defined.has(name), `dashboard names ${name}, which no collector defines`);
  for (const name of docs) assert.ok(defined.has(name), `docs name ${name}, which no collector defines`);
  for (const name of defined) assert.ok(docs.has(name), `${name} is not in docs/metrics.md`);
});
