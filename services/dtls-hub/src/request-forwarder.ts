import { pipeline } from 'node:stream/promises';
import { lazyChild, type Logger } from '@hopgate/log';
import { Exchange, causeOf, onCancel } from '@hopgate/exchange';
import { ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import type { RelayServerStream } from '@hopgate/relay';
import type { TransportStream } from '@hopgate/transport';
import { MessageStreamReader, decodeMessage, decodeRelayOpen, type RelayEnvelope } from '@hopgate/wire';
import { pipeStreams } from '@hopgate/http-tunnel';
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
  carry(relay, tunnel, open.hasBody, headBytes, log);
}

/**
 * The accepted request as a pipeline over one Exchange (libs/exchange): the ingress closing the
 * relay stream cancels it (the agent's stream is reset); the agent's stream_error or a broken
 * stream cancels it with that cause (the ingress gets it as RESET); a whole response completes it.
 * The access log line reports the hub's own durations (held_ms, head_ms).
 */
function carry(relay: RelayServerStream, tunnel: TransportStream, hasBody: boolean, headBytes: Uint8Array, log: Logger): void {
  const ex = new Exchange();
  ex.accepted();
  /** The agent answered with its own stream_error (a clean end of its stream, not a break). */
  let agentAnswered = false;
  tunnel.on('error', () => undefined);
  relay.on('error', () => undefined);
  // The relay stream closes when both directions ended (the response went out whole), or when the
  // ingress reset it (browser left, timeout): only the second is a cancel.
  relay.once('close', () => {
    if (relay.writableFinished) ex.complete();
    else ex.cancel({ code: ErrorCode.StreamReset, message: 'the ingress closed the stream', source: 'client' });
  });
  onCancel(ex, (cause) => {
    // The agent's own stream_error ended its stream cleanly: read what is left; else reset it.
    if (agentAnswered) tunnel.resume();
    else if (!tunnel.destroyed) tunnel.destroy();
    if (cause.source !== 'client' && !relay.destroyed) relay.fail(cause.code, cause.message);
  });
  ex.once('done', (cause) => {
    const timing = { held_ms: roundMs(ex.heldMs), ...(ex.headMs === undefined ? {} : { head_ms: roundMs(ex.headMs) }) };
    if (!cause) log.info(timing, 'request relayed');
    else if (cause.source === 'client') log.debug({ code: cause.code, ...timing }, 'request cancelled by the ingress');
    else if (agentAnswered) log.info({ code: cause.code, reason: cause.message, ...timing }, 'agent could not serve the request');
    else log.info({ code: cause.code, reason: cause.message, ...timing }, 'request stream ended early');
  });
  tunnel.write(headBytes);
  const requestBody = hasBody
    ? pipeline(relay, tunnel, { end: true }).catch((err: unknown) => {
        if (!ex.done) log.debug({ code: errorCodeOf(err) }, 'request body stream ended early');
      })
    : (relay.resume(), tunnel.end(), Promise.resolve());
  const respond = async (): Promise<void> => {
    const msg = await new MessageStreamReader(tunnel).readRawMessage();
    if (ex.done) return;
    if (msg.kind === 'stream_error') {
      const error = decodeMessage(msg.bytes)!.message as { code: ErrorCode; message: string };
      agentAnswered = true;
      ex.cancel({ code: error.code, message: error.message, source: 'peer' });
      return;
    }
    if (msg.kind !== 'response_head') {
      ex.cancel({ code: ErrorCode.Protocol, message: `agent sent ${msg.kind} instead of a response head`, source: 'peer' });
      return;
    }
    ex.headArrived();
    relay.respond(msg.bytes);
    // Datagram-sized chunks are joined into chunk-sized DATA frames by the relay stream itself
    // (RelayStream: a DATA joins the previous one while it is the last of its message), in the
    // publish slab: no buffer gathers them first.
    await pipeStreams(tunnel, relay);
    await requestBody;
    ex.complete();
  };
  respond().catch((err: unknown) => {
    ex.cancel(causeOf(err, 'peer', ErrorCode.StreamReset));
  });
}

/** A duration in ms with microsecond precision, for the logs. */
function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
