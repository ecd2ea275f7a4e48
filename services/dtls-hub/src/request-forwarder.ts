import { pipeline } from 'node:stream/promises';
import { lazyChild, type Logger } from '@hopgate/log';
import { ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import type { RelayServerStream } from '@hopgate/relay';
import type { TransportStream } from '@hopgate/transport';
import { MessageStreamReader, decodeMessage, decodeRelayOpen, type RelayEnvelope } from '@hopgate/wire';
import { Coalescer, pipeStreams } from '@hopgate/http-tunnel';
import type { AgentSession } from './agent-session.js';

export interface ForwardContext {
  hubId: string;
  /** The session for a request: the named instance's, else another open one of the client. */
  findSession(clientId: string, instanceId?: string): AgentSession | undefined;
  logger: Logger;
}

/**
 * Carries one request from the relay (NATS, from an ingress) down the agent's session and
 * the response back. Cancel on either side resets the other. A splice: the hub reads the
 * routing envelope only and passes the request head and the agent's response head on as
 * they came (their framing checked, never decoded or re-encoded).
 */
export async function forwardRequest(relay: RelayServerStream, ctx: ForwardContext): Promise<void> {
  let open: RelayEnvelope;
  let headBytes: Uint8Array;
  try {
    ({ envelope: open, head: headBytes } = decodeRelayOpen(relay.head));
  } catch (err) {
    ctx.logger.warn({ err: errorMessageOf(err), request_id: relay.requestId }, 'malformed request from ingress: rejected');
    relay.reject(ErrorCode.BadFrame, 'malformed request head');
    return;
  }
  const log = lazyChild(ctx.logger, { request_id: relay.requestId, client_id: open.clientId, route: open.route, instance_id: open.instanceId });
  const started = performance.now();
  /** Time from the OPEN to the agent's response head, in ms (undefined before it). */
  let headMs: number | undefined;
  /** The access log's durations: held_ms (OPEN to the stream's end here), head_ms. */
  const timing = (): { held_ms: number; head_ms?: number } => ({ held_ms: roundMs(performance.now() - started), ...(headMs === undefined ? {} : { head_ms: roundMs(headMs) }) });
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
  const requestBody = open.hasBody
    ? pipeline(relay, tunnel, { end: true }).catch((err: unknown) => {
        if (!done) log.debug({ code: errorCodeOf(err) }, 'request body stream ended early');
      })
    : (relay.resume(), tunnel.end(), Promise.resolve());
  try {
    const reader = new MessageStreamReader(tunnel);
    const msg = await reader.readRawMessage();
    if (msg.kind === 'stream_error') {
      const error = decodeMessage(msg.bytes)!.message as { code: ErrorCode; message: string };
      log.info({ code: error.code, reason: error.message, ...timing() }, 'agent could not serve the request');
      done = true;
      relay.fail(error.code, error.message);
      tunnel.resume();
      return;
    }
    if (msg.kind !== 'response_head') {
      done = true;
      relay.fail(ErrorCode.Protocol, `agent sent ${msg.kind} instead of a response head`);
      tunnel.destroy();
      return;
    }
    headMs = performance.now() - started;
    relay.respond(msg.bytes);
    // Datagram-sized chunks are joined before they become NATS publishes.
    await pipeStreams(tunnel, new Coalescer(), relay);
    await requestBody;
    done = true;
    log.info(timing(), 'request relayed');
  } catch (err) {
    if (done) return;
    done = true;
    const code = errorCodeOf(err);
    log.info({ code, reason: errorMessageOf(err), ...timing() }, 'request stream ended early');
    if (!relay.destroyed) relay.fail(code === ErrorCode.Internal ? ErrorCode.StreamReset : code, errorMessageOf(err));
    if (!tunnel.destroyed) tunnel.destroy();
  }
}

/** A duration in ms with microsecond precision, for the logs. */
function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
