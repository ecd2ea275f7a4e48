import { instanceKeyOf } from './instance-picker.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { HopError, ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import { lazyChild } from '@hopgate/log';
import { stripHopByHop } from '@hopgate/http-tunnel';
import type { RelayClientStream } from '@hopgate/relay';
import { ExchangeState, cancelOn, deadline, onCancel } from '@hopgate/exchange';
import { failureOf, openRelayAttempt, responseTimeoutCause, type RelayAttempt } from './relay-attempt.js';
import type { ProxyContext } from './proxy-handler.js';
import { buildRequestHead } from './request-head.js';
import { publicReasonFor, statusForCode } from './error-status.js';
import { rawResponseHead, writeRawError } from './raw-response.js';
import { admitRequest } from './request-admission.js';
import { encodeOpenHead, encodeRequestHead } from './open-head.js';
import { checkResponseHead, pipeResponseBody, REQUEST_ID_HEADER } from './response-framing.js';
import { afterPendingResponses } from './pending-responses.js';
import { requestClientOf } from './client-address.js';

/** The only Upgrade the tunnel carries (RFC 6455); others get a clear 501. */
export const SUPPORTED_UPGRADE = 'websocket';

/**
 * An HTTP/1.1 Upgrade (WebSocket) request: the same admission (target, Host, path, route) and
 * owner lookup as a request, then the relay stream carries the raw bytes both ways once the
 * origin answered 101. A non-101 answer from the origin is passed on as a normal response
 * (connection: close), within its Content-Length. The agent's head is checked like any other
 * (response-framing.ts) before a byte of it is written to the raw socket.
 * Containment: any failure ends this upgrade alone, logged with its request id.
 */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, early: Buffer, proto: 'http' | 'https', ctx: ProxyContext): void {
  socket.on('error', () => undefined);
  // A pipelined upgrade is answered after the requests before it (RFC 9112 §9.3.2).
  afterPendingResponses(socket, () => handleUpgrade(req, socket, early, proto, ctx));
}

function handleUpgrade(req: IncomingMessage, socket: Duplex, early: Buffer, proto: 'http' | 'https', ctx: ProxyContext): void {
  const started = Date.now();
  const requestId = ctx.nextRequestId();
  const method = req.method;
  let log = lazyChild(ctx.logger, { request_id: requestId });
  let stream: RelayClientStream | undefined;
  /** Route key and client id once routed ('' before): the labels of hopgate_ingress_upgrades_total. */
  let labels = { route: '', client: '' };
  let counted = false;
  /** The answer head (`status`) goes out now: counted once. */
  const answered = (status: number): void => {
    if (counted) return;
    counted = true;
    ctx.metrics?.upgraded({ status, ...labels });
  };
  const internalError = (err: unknown): void => {
    try {
      log.error({ err, duration_ms: Date.now() - started }, 'upgrade failed inside the ingress');
      if (stream && !stream.destroyed) stream.destroy();
      answered(502);
      writeRawError(socket, 502, publicReasonFor(ErrorCode.Internal), requestId, ErrorCode.Internal, method);
    } catch {
      socket.destroy();
    }
  };
  try {
    const client = requestClientOf(req, proto, ctx);
    log = lazyChild(ctx.logger, { request_id: requestId, client_ip: client.clientIp });
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
    if (upgrade !== SUPPORTED_UPGRADE) {
      log.info({ status: 501, upgrade: upgrade.slice(0, 64) }, 'upgrade refused: not websocket');
      answered(501);
      writeRawError(socket, 501, 'upgrades other than websocket are not supported', requestId, undefined, method);
      return;
    }
    const admission = admitRequest(req, ctx.routes.current);
    if (!admission.ok) {
      const { refusal } = admission;
      log.info({ status: refusal.status, reason: refusal.reason }, refusal.status === 404 ? 'no route' : 'malformed request refused');
      answered(refusal.status);
      writeRawError(socket, refusal.status, refusal.publicText, requestId, refusal.code, method);
      return;
    }
    const { match, target } = admission.request;
    labels = { route: match.route, client: match.clientId };
    log = ctx.logger.child({ request_id: requestId, client_id: match.clientId, route: match.route, upgrade, client_ip: client.clientIp });
    const fail = (err: unknown): void => {
      const code = errorCodeOf(err);
      if (code === ErrorCode.ClientOffline) ctx.owners.invalidate(match.clientId);
      log.info({ code, reason: errorMessageOf(err), duration_ms: Date.now() - started }, 'upgrade failed');
      answered(statusForCode(code));
      writeRawError(socket, statusForCode(code), publicReasonFor(code), requestId, code, method);
    };
    const base = buildRequestHead(req, target, requestId, match.service, client, new Set(['upgrade']));
    // Connection was stripped as hop-by-hop; the origin needs it to accept the upgrade.
    const head = { ...base, headers: [...base.headers, ['connection', 'Upgrade'] as [string, string]], has_body: true };
    const encoded = encodeRequestHead(head);
    const envelope = { clientId: match.clientId, route: match.route, hasBody: true };
    const open = encoded.ok ? encodeOpenHead(envelope, encoded.bytes) : encoded;
    if (!open.ok) {
      log.info({ status: 431, reason: open.reason }, 'malformed request refused');
      answered(431);
      writeRawError(socket, 431, 'request header fields too large', requestId, undefined, method);
      return;
    }
    ctx.owners
      .lookup(match.clientId)
      .then(
        (instances) => {
          const owner = ctx.picker.pick(match.clientId, instances);
          if (!owner) return fail(new HopError(ErrorCode.ClientOffline, `client "${match.clientId}" is offline (no agent session)`));
          if (socket.destroyed) return;
          if (!ctx.relay.connected) return fail(new HopError(ErrorCode.Unavailable, 'the message bus (NATS) is unreachable from this ingress; retry shortly'));
          const bytes = owner.instanceId === '' || !encoded.ok ? open : encodeOpenHead({ ...envelope, instanceId: owner.instanceId }, encoded.bytes);
          if (!bytes.ok) return fail(new HopError(ErrorCode.Protocol, bytes.reason));
          // One relay attempt (one Exchange): it ends when its stream closes, or with a cause.
          let headWritten = false;
          const attempt: RelayAttempt = openRelayAttempt(ctx.relay, owner.hubId, bytes.bytes, requestId, (response) => {
            const checked = checkResponseHead(response, 'GET', true);
            if (!checked.ok) {
              attempt.exchange.cancel({ code: ErrorCode.Protocol, message: `invalid response head from the agent: ${checked.reason}`, source: 'peer' });
              return;
            }
            const switched = checked.head.status === 101;
            const headers = stripHopByHop(checked.head.headers, switched ? new Set(['upgrade']) : new Set<string>());
            headers.push(['connection', switched ? 'Upgrade' : 'close']);
            headers.push([REQUEST_ID_HEADER, requestId]);
            answered(checked.head.status);
            socket.write(rawResponseHead(checked.head.status, headers));
            headWritten = true;
            log.info({ status: checked.head.status, hub_id: owner.hubId, instance_id: owner.instanceId, duration_ms: Date.now() - started }, 'upgrade answered');
            if (switched) {
              opened.pipe(socket);
              return;
            }
            pipeResponseBody(opened, socket, checked.head, (outcome) => {
              if (outcome.kind === 'overflow') {
                log.warn({ status: checked.head.status, content_length: checked.head.contentLength, excess_bytes: outcome.excessBytes }, 'response body longer than its Content-Length from the agent: cut at Content-Length');
                opened.destroy();
              } else if (outcome.kind === 'short') {
                log.warn({ status: checked.head.status, received_bytes: outcome.receivedBytes, content_length: outcome.expectedBytes }, 'response body shorter than its Content-Length from the agent: response cut');
                socket.destroy();
              }
            });
          });
          const { exchange: ex, stream: opened } = attempt;
          opened.once('close', ctx.picker.acquire(instanceKeyOf(match.clientId, owner)));
          stream = opened;
          deadline(ex, ExchangeState.Streaming, ctx.responseTimeoutMs, responseTimeoutCause(match.clientId, ctx.responseTimeoutMs));
          // The browser's socket closing resets the relay stream (no log: the upgrade's end).
          cancelOn(ex, socket, 'close', () => ({ code: ErrorCode.StreamReset, message: 'the browser closed the connection', source: 'client' }));
          onCancel(ex, (cause) => {
            if (cause.source === 'local') return;
            if (!opened.destroyed) opened.destroy(cause.source === 'timeout' ? failureOf(cause) : undefined);
            if (cause.source === 'client') return;
            // Before the answer head: an error status; after it, the connection is cut.
            if (!headWritten) fail(failureOf(cause));
            else socket.destroy();
          });
          if (early.length > 0) opened.write(early);
          socket.pipe(opened);
        },
        (err: unknown) => fail(new HopError(ErrorCode.Unavailable, `cannot look up the session of client "${match.clientId}" in Redis: ${errorMessageOf(err)}`)),
      )
      .catch(internalError);
  } catch (err) {
    internalError(err);
  }
}
