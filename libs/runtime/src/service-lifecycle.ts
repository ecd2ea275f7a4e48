import type { LoopMonitor } from './loop-monitor.js';
import type { OpsServer } from './ops-server.js';
import { sendOpsJson } from './ops-server.js';
import { READY, notReady, type Readiness } from './readiness.js';

/**
 * Where a service is in its life: starting (until start() resolved), running, draining
 * (after the first SIGTERM/SIGINT, until drain() ended), stopping (stop() running).
 */
export type LifecyclePhase = 'starting' | 'running' | 'draining' | 'stopping';

/** What the lifecycle reads of the service (RunnableService's optional readiness). */
export interface ReadinessSource {
  readiness?(): Readiness;
}

/**
 * The phase of a service's process and its readiness: the service's own answer while it runs
 * (or while it starts, when it has one: `waiting for redis`), `starting` before that, and
 * `draining` / `stopping` from the first signal on, whatever the service says.
 */
export class ServiceLifecycle {
  private current: LifecyclePhase = 'starting';

  constructor(private readonly service: ReadinessSource) {}

  get phase(): LifecyclePhase {
    return this.current;
  }

  /** starting -> running -> draining -> stopping; starting -> stopping; never back. */
  enter(next: LifecyclePhase): void {
    const order: LifecyclePhase[] = ['starting', 'running', 'draining', 'stopping'];
    if (order.indexOf(next) > order.indexOf(this.current)) this.current = next;
  }

  readiness(): Readiness {
    switch (this.current) {
      case 'draining':
        return notReady('draining');
      case 'stopping':
        return notReady('stopping');
      case 'starting': {
        const own = this.own();
        return own && !own.ready ? own : notReady('starting');
      }
      case 'running':
        return this.own() ?? READY;
    }
  }

  private own(): Readiness | undefined {
    if (!this.service.readiness) return undefined;
    try {
      return this.service.readiness();
    } catch {
      return notReady('readiness check failed');
    }
  }
}

/**
 * /healthz: 200 while the event loop turns (no block over its bound lately), else 503.
 * /readyz: 200 `{"ready":true}` or 503 `{"ready":false,"reason":"..."}`.
 */
export function addProbeRoutes(ops: OpsServer, lifecycle: { readiness(): Readiness }, loop: LoopMonitor): void {
  ops.route('/healthz', (req, res) => {
    const health = loop.health;
    sendOpsJson(req, res, health.healthy ? 200 : 503, { status: health.healthy ? 'ok' : 'event loop blocked', loop_delay_ms: health.delayMs });
  });
  ops.route('/readyz', (req, res) => {
    const readiness = lifecycle.readiness();
    sendOpsJson(req, res, readiness.ready ? 200 : 503, readiness.ready ? { ready: true } : { ready: false, reason: readiness.reason ?? 'not ready' });
  });
}
