import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { HopError, ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import { encodeTunnelOpen, stripHopByHop } from '@hopgate/http-tunnel';
import { awaitResponseHead } from './response-head.js';
import type { ProxyContext } from './proxy-handler.js';
import { buildRequestHead, normalizedHost, pathOnly, requestTarget } from './request-head.js';
import { statusForCode } from './error-status.js';
import { rawResponseHead, writeRawError } from './raw-response.js';
import { requestClientOf } from './client-address.js';

/** The only Upgrade the tunnel carries (RFC 6455); others get a clear 501. */
export const SUPPORTED_UPGRADE = 'websocket';

/**
 * An HTTP/1.1 Upgrade (WebSocket) request: the same route and owner lookup as a request,
 * then the relay stream carries the raw bytes both ways once the origin answered 101.
 * A non-101 answer from the origin is passed on as a normal response.
 */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, early: Buffer, proto: 'http' | 'https', ctx: ProxyContext): void {
  const started = Date.now();
  const requestId = ctx.nextRequestId();
  const client = requestClientOf(req, proto, ctx);
  socket.on('error', () => undefined);
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  if (upgrade !== SUPPORTED_UPGRADE) {
    writeRawError(socket, 501, `hopgate: Upgrade "${upgrade}" is not supported (only websocket)`, requestId);
    return;
  }
  const target = requestTarget(req);
  if ('error' in target) {
    writeRawError(socket, 400, `hopgate: ${target.error}`, requestId);
    return;
  }
  const host = normalizedHost(target.authority);
  const path = pathOnly(target.path);
  const match = ctx.routes.current.match(host, path);
  if (!match) {
    writeRawError(socket, 404, `hopgate: no route for ${host}${path}`, requestId);
    return;
  }
  const log = ctx.logger.child({ request_id: requestId, client_id: match.clientId, route: match.route, upgrade, client_ip: client.clientIp });
  const fail = (err: unknown): void => {
    const code = errorCodeOf(err);
    if (code === ErrorCode.ClientOffline) ctx.owners.invalidate(match.clientId);
    log.info({ code, reason: errorMessageOf(err), duration_ms: Date.now() - started }, 'upgrade failed');
    writeRawError(socket, statusForCode(code), `hopgate: ${errorMessageOf(err)}`, requestId);
  };
  void ctx.owners.lookup(match.clientId).then(
    (owner) => {
      if (!owner) return fail(new HopError(ErrorCode.ClientOffline, `client "${match.clientId}" is offline (no agent session)`));
      if (socket.destroyed) return;
      if (!ctx.relay.connected) return fail(new HopError(ErrorCode.Busy, 'the message bus (NATS) is unreachable from this ingress; retry shortly'));
      const base = buildRequestHead(req, target, requestId, match.service, client, new Set(['upgrade']));
      // Connection was stripped as hop-by-hop; the origin needs it to accept the upgrade.
      const head = { ...base, headers: [...base.headers, ['connection', 'Upgrade'] as [string, string]], has_body: true };
      const stream = ctx.relay.open(owner.hubId, encodeTunnelOpen({ clientId: match.clientId, route: match.route, request: head }), requestId);
      const wait = awaitResponseHead(stream, match.clientId, ctx.responseTimeoutMs, (response) => {
        const keep = response.status === 101 ? new Set(['upgrade']) : new Set<string>();
        const headers = stripHopByHop(response.headers, keep);
        if (response.status === 101) headers.push(['connection', 'Upgrade']);
        else headers.push(['connection', 'close']);
        headers.push(['x-hopgate-request-id', requestId]);
        socket.write(rawResponseHead(response.status, headers));
        log.info({ status: response.status, hub_id: owner.hubId, duration_ms: Date.now() - started }, 'upgrade answered');
        stream.pipe(socket);
      }, fail);
      stream.on('error', (err: unknown) => {
        if (!wait.responded()) fail(err);
        else socket.destroy();
      });
      socket.once('close', () => {
        if (!stream.destroyed) stream.destroy();
      });
      if (early.length > 0) stream.write(early);
      socket.pipe(stream);
    },
    (err: unknown) => fail(new HopError(ErrorCode.ClientOffline, `cannot look up the session of client "${match.clientId}": ${errorMessageOf(err)}`)),
  );
}
