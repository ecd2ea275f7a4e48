import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { statusClassOf } from './status-class.js';

/**
 * Upper bounds of the request duration buckets, in seconds: from a cached, loopback-fast
 * answer (~1 ms) to a long download or the response timeout (60 s).
 */
export const REQUEST_DURATION_BUCKETS_SECONDS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** How a route's fallback took a request over (route-fallback.ts): a page, or another client. */
export type FallbackKind = 'page' | 'client';

/** One finished public request, as the access log line sees it. */
export interface RequestSample {
  /** The status sent, or undefined when the client left before one went out. */
  status: number | undefined;
  /** Route key (`host+prefix`, as in the route table), '' when no route matched. */
  route: string;
  /** Client id that served (or was meant to serve) the request, '' before a route matched. */
  client: string;
  durationSeconds: number;
  /** Request body bytes relayed towards the agent. */
  requestBytes: number;
  /** Response body bytes relayed back from the agent. */
  responseBytes: number;
  /** The request was sent a second time after a failure of the way (proxy-handler.ts). */
  retried: boolean;
  /** The route's fallback took the request over, and how. */
  fallback: FallbackKind | undefined;
}

/** What the ingress's gauges read at scrape time. */
export interface IngressStateSource {
  /** Routes in the table in force (undefined before the first load). */
  routeCount(): number | undefined;
}

/**
 * The ingress's request metrics: one `observe` per finished request (where the access log line
 * is written), route-table size read at scrape time. Labels are route keys and client ids:
 * bounded by the route table and the configured clients, never paths or request ids.
 */
export class IngressMetrics {
  private readonly requests: Counter<'status_class' | 'route' | 'client'>;
  private readonly duration: Histogram<'route'>;
  private readonly requestBytes: Counter<'route' | 'client'>;
  private readonly responseBytes: Counter<'route' | 'client'>;
  private readonly retries: Counter<'route' | 'client'>;
  private readonly fallbacks: Counter<'route' | 'kind'>;
  private readonly upgrades: Counter<'status_class' | 'route' | 'client'>;

  constructor(registry: Registry, source: IngressStateSource) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'hopgate_ingress_requests_total',
      help: 'Public requests answered (or abandoned by the client), by status class, route and client.',
      labelNames: ['status_class', 'route', 'client'],
      registers,
    });
    this.duration = new Histogram({
      name: 'hopgate_ingress_request_duration_seconds',
      help: 'Time from a public request\'s arrival to the end of its response (last byte or abort), by route.',
      labelNames: ['route'],
      buckets: [...REQUEST_DURATION_BUCKETS_SECONDS],
      registers,
    });
    this.requestBytes = new Counter({
      name: 'hopgate_ingress_request_bytes_total',
      help: 'Request body bytes relayed from the public side towards the agents, by route and client.',
      labelNames: ['route', 'client'],
      registers,
    });
    this.responseBytes = new Counter({
      name: 'hopgate_ingress_response_bytes_total',
      help: 'Response body bytes relayed from the agents to the public side, by route and client.',
      labelNames: ['route', 'client'],
      registers,
    });
    this.retries = new Counter({
      name: 'hopgate_ingress_retries_total',
      help: 'Requests sent a second time (to another instance) after the way to the agent failed, by route and client.',
      labelNames: ['route', 'client'],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'hopgate_ingress_fallbacks_total',
      help: 'Requests a route\'s fallback took over (kind: page or client), by route.',
      labelNames: ['route', 'kind'],
      registers,
    });
    this.upgrades = new Counter({
      name: 'hopgate_ingress_upgrades_total',
      help: 'WebSocket upgrade requests answered (101 when switched), by status class, route and client; not in the request metrics.',
      labelNames: ['status_class', 'route', 'client'],
      registers,
    });
    new Gauge({
      name: 'hopgate_ingress_routes',
      help: 'Routes in the route table in force on this ingress.',
      registers,
      collect() {
        this.set(source.routeCount() ?? 0);
      },
    });
  }

  /** Counts one upgrade request when its answer head goes out (101, or the status it was refused with). */
  upgraded(sample: { status: number; route: string; client: string }): void {
    this.upgrades.inc({ status_class: statusClassOf(sample.status), route: sample.route, client: sample.client });
  }

  /** Counts one finished request. */
  observe(sample: RequestSample): void {
    const { route, client } = sample;
    this.requests.inc({ status_class: statusClassOf(sample.status), route, client });
    this.duration.observe({ route }, sample.durationSeconds);
    if (sample.requestBytes > 0) this.requestBytes.inc({ route, client }, sample.requestBytes);
    if (sample.responseBytes > 0) this.responseBytes.inc({ route, client }, sample.responseBytes);
    if (sample.retried) this.retries.inc({ route, client });
    if (sample.fallback !== undefined) this.fallbacks.inc({ route, kind: sample.fallback });
  }
}
