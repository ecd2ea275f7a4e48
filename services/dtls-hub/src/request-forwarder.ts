import { pipeline } from 'node:stream/promises';
import { lazyChild, type Logger } from '@hopgate/log';
import { ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import type { RelayServerStream } from '@hopgate/relay';
import type { TransportStream } from '@hopgate/transport';
import { MessageStreamReader, encodeMessage } from '@hopgate/wire';
import { Coalescer, decodeTunnelOpen, encodeTunnelResponse, pipeStreams, type TunnelOpen } from '@hopgate/http-tunnel';
import type { AgentSession } from './agent-session.js';

export interface ForwardContext {
  hubId: string;
  /** The session for a request: the named instance's, else another open one of the client. */
  findSession(clientId: string, instanceId?: string): AgentSession | undefined;
  logger: Logger;
}

/**
 * Carries one request from the relay (NATS, from an ingress) down the agent's session and
 * the response back. Cancel on either side resets the other.
 */
export async function forwardRequest(relay: RelayServerStream, ctx: ForwardContext): Promise<void> {
  let open: TunnelOpen;
  try {
    open = decodeTunnelOpen(relay.head);
  } catch (err) {
    ctx.logger.warn({ err: errorMessageOf(err), request_id: relay.requestId }, 'malformed request from ingress: rejected');
    relay.reject(ErrorCode.BadFrame, 'malformed request head');
    return;
  }
  const log = lazyChild(ctx.logger, { request_id: open.request.request_id, client_id: open.clientId, route: open.route, instance_id: open.instanceId });
  let headBytes: Buffer;
  try {
    headBytes = encodeMessage(open.request);
  } catch (err) {
    log.warn({ err: errorMessageOf(err) }, 'request head cannot be sent to the agent: rejected');
    relay.reject(ErrorCode.BadFrame, 'request head too large for the tunnel');
    return;
  }
  const session = ctx.findSession(open.clientId, open.instanceId);
  if (!session || !session.isOpen) {
    log.info('no live session for this client on this hub');
    relay.reject(ErrorCode.ClientOffline, `client "${open.clientId}" has no live session on hub ${ctx.hubId}`);
    return;
  }
  let tunnel: TransportStream;
  try {
    tunnel = session.openStream();
  } catch (err) {
    const code = errorCodeOf(err);
    const reason = errorMessageOf(err);
    if (code === ErrorCode.Busy) {
      const unlogged = session.busyRefusalLog.take();
      if (unlogged !== undefined) {
        log.warn({ code, reason, streams_in_flight: session.streamsInFlight, max_streams: session.maxStreams, refused_unlogged: unlogged }, 'request refused: too many streams in flight to this agent');
      }
      relay.reject(ErrorCode.Busy, reason);
    } else {
      log.warn({ code, reason }, 'cannot open a stream to the agent');
      relay.reject(ErrorCode.ClientOffline, reason);
    }
    return;
  }
  relay.accept();
  tunnel.on('error', () => undefined);
  tunnel.once('close', () => log.debug({ streams_in_flight: session.streamsInFlight }, 'request stream closed: slot freed'));
  relay.on('error', () => undefined);
  // Cancel from the ingress (browser left, timeout): reset the agent's stream.
  let done = false;
  relay.once('close', () => {
    if (!done && !tunnel.destroyed) tunnel.destroy();
  });
  tunnel.write(headBytes);
  const requestBody = open.request.has_body
    ? pipeline(relay, tunnel, { end: true }).catch((err: unknown) => {
        if (!done) log.debug({ code: errorCodeOf(err) }, 'request body stream ended early');
      })
    : (relay.resume(), tunnel.end(), Promise.resolve());
  try {
    const reader = new MessageStreamReader(tunnel);
    const msg = await reader.readMessage();
    if (msg.type === 'stream_error') {
      log.info({ code: msg.code, reason: msg.message }, 'agent could not serve the request');
      done = true;
      relay.fail(msg.code, msg.message);
      tunnel.resume();
      return;
    }
    if (msg.type !== 'response_head') {
      done = true;
      relay.fail(ErrorCode.Protocol, `agent sent ${msg.type} instead of a response head`);
      tunnel.destroy();
      return;
    }
    relay.respond(encodeTunnelResponse(msg));
    // Datagram-sized chunks are joined before they become NATS publishes.
    await pipeStreams(tunnel, new Coalescer(), relay);
    await requestBody;
    done = true;
  } catch (err) {
    if (done) return;
    done = true;
    const code = errorCodeOf(err);
    log.info({ code, reason: errorMessageOf(err) }, 'request stream ended early');
    if (!relay.destroyed) relay.fail(code === ErrorCode.Internal ? ErrorCode.StreamReset : code, errorMessageOf(err));
    if (!tunnel.destroyed) tunnel.destroy();
  }
}
