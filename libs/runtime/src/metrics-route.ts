import { renderMetrics, type Registry } from '@hopgate/metrics';
import type { Logger } from '@hopgate/log';
import { errorMessageOf } from '@hopgate/errors';
import { sendOpsJson, type OpsServer } from './ops-server.js';

/** Path of the Prometheus scrape endpoint on the ops listener. */
export const METRICS_PATH = '/metrics';

/**
 * `GET /metrics` on the ops listener: the Prometheus text exposition of `registry`, with
 * prom-client's content type. A collector that throws fails this scrape alone (500, logged).
 */
export function addMetricsRoute(ops: OpsServer, registry: Registry, logger: Logger): void {
  ops.route(METRICS_PATH, (req, res) => {
    renderMetrics(registry).then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        logger.error({ err: errorMessageOf(err) }, 'metrics: a collector failed');
        if (!res.headersSent) sendOpsJson(req, res, 500, { error: 'metrics collection failed' });
        else res.destroy();
      },
    );
  });
}
