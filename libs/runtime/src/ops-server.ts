import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatHostPort, type ListenAddress } from '@hopgate/config';
import type { Logger } from '@hopgate/log';

/** An ops request must send its head within this time, in ms (probes are tiny). */
export const OPS_HEADERS_TIMEOUT_MS = 5_000;
/** Idle keep-alive connections of probes are closed after this time, in ms. */
export const OPS_KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** Answers one ops request (GET or HEAD of its path). */
export type OpsRoute = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface OpsServerOptions {
  /** HOPGATE_OPS_LISTEN. */
  listen: ListenAddress;
  logger: Logger;
}

/** Writes `body` as JSON with `status`; no body for HEAD. */
export function sendOpsJson(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/**
 * The ops listener of a service (HOPGATE_OPS_LISTEN): plain HTTP for probes inside the
 * cluster, never the public port. Routes are exact paths answered on GET and HEAD
 * (`route('/healthz', ...)`; a later /metrics is one more call); anything else gets 404.
 */
export class OpsServer {
  private readonly routes = new Map<string, OpsRoute>();
  private readonly server: http.Server;
  private readonly log: Logger;
  private bound: AddressInfo | undefined;

  constructor(private readonly options: OpsServerOptions) {
    this.log = options.logger.child({ component: 'ops' });
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.headersTimeout = OPS_HEADERS_TIMEOUT_MS;
    this.server.requestTimeout = OPS_HEADERS_TIMEOUT_MS;
    this.server.keepAliveTimeout = OPS_KEEP_ALIVE_TIMEOUT_MS;
  }

  /** Adds (or replaces) the handler of `path`. */
  route(path: string, handler: OpsRoute): this {
    this.routes.set(path, handler);
    return this;
  }

  /** Binds the listener and logs `ops listening` with the bound address (tests read it there). */
  async start(): Promise<AddressInfo> {
    const { host, port } = this.options.listen;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (err) => this.log.warn({ err: err.message }, 'ops listener error'));
    this.bound = this.server.address() as AddressInfo;
    this.log.info({ listen: formatHostPort({ host: this.bound.address, port: this.bound.port }) }, 'ops listening');
    return this.bound;
  }

  /** The bound address, once started. */
  get address(): AddressInfo | undefined {
    return this.bound;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const route = req.method === 'GET' || req.method === 'HEAD' ? this.routes.get(path) : undefined;
    if (!route) {
      sendOpsJson(req, res, 404, { error: 'not found' });
      return;
    }
    try {
      route(req, res);
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.message : String(err), path }, 'ops route failed');
      if (!res.headersSent) sendOpsJson(req, res, 500, { error: 'internal error' });
      else res.destroy();
    }
  }
}
