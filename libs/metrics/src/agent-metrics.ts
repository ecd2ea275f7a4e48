import { Counter, Gauge, type Registry } from 'prom-client';
import { statusClassOf } from './status-class.js';

/**
 * Agent metrics (on its optional ops listener, `ops_listen`): requests served by status class
 * and service, origin errors by service and code, session state.
 */
export class AgentMetrics {
  private readonly requests: Counter<'status_class' | 'service'>;
  private readonly originErrors: Counter<'service' | 'code'>;

  constructor(registry: Registry, online: () => boolean) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'hopgate_agent_requests_total',
      help: 'Tunnelled requests this agent answered, by status class and local service (bounded by the configured services).',
      labelNames: ['status_class', 'service'],
      registers,
    });
    this.originErrors = new Counter({
      name: 'hopgate_agent_origin_errors_total',
      help: 'Requests that failed against the local origin (refused, timed out, reset), by service and error code.',
      labelNames: ['service', 'code'],
      registers,
    });
    new Gauge({
      name: 'hopgate_agent_session_online',
      help: '1 while this agent has an authenticated session with a hub, else 0.',
      registers,
      collect() {
        this.set(online() ? 1 : 0);
      },
    });
  }

  /** A response head went back for `service` (status from the origin, or the agent's own error status). */
  served(service: string, status: number): void {
    this.requests.inc({ status_class: statusClassOf(status), service });
  }

  /** The origin of `service` failed the request with error `code` (ErrorCode). */
  originError(service: string, code: string): void {
    this.originErrors.inc({ service, code });
  }
}
