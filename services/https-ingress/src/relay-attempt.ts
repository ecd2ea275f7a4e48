import { ErrorCode, HopError } from '@hopgate/errors';
import { Exchange, causeOf, type CancelCause } from '@hopgate/exchange';
import { decodeTunnelResponse } from '@hopgate/http-tunnel';
import type { RelayClient, RelayClientStream } from '@hopgate/relay';
import type { ResponseHead } from '@hopgate/wire';

/**
 * One relay attempt (one RelayClientStream to one hub) as one Exchange (libs/exchange):
 *
 *   opening (OPEN sent) --hub's ACCEPT--> head --response head--> streaming --> done
 *
 * The stream's own events drive it: 'accepted' and 'response' advance it, a stream error cancels
 * it with that error's code (source 'peer'), and a stream that closes before the exchange is done
 * ends it too: complete when both directions ended, else with STREAM_CLOSED (source 'local':
 * the ingress destroyed the stream itself, e.g. an HTTP/2 upload the browser reset). The caller
 * completes it when the response is whole and adds its own wrappers (deadline, the browser's
 * close, body stalls) and its one onCancel.
 */
export interface RelayAttempt {
  readonly exchange: Exchange;
  readonly stream: RelayClientStream;
}

/** The cause of a relay stream closed under a running exchange without an error of its own. */
export const STREAM_CLOSED: CancelCause = { code: ErrorCode.Closed, message: 'relay stream closed by the ingress', source: 'local' };

/**
 * Opens the relay stream to `hubId` and its exchange. `onHead` gets the decoded response head
 * once the exchange entered streaming; an undecodable head cancels it (ERR_BAD_FRAME, 'peer').
 */
export function openRelayAttempt(relay: RelayClient, hubId: string, openBytes: Uint8Array, requestId: string, onHead: (head: ResponseHead) => void): RelayAttempt {
  const exchange = new Exchange();
  const stream = relay.open(hubId, openBytes, requestId);
  stream.once('accepted', () => exchange.accepted());
  stream.once('response', (bytes: Uint8Array) => {
    if (!exchange.headArrived()) return;
    let head: ResponseHead;
    try {
      head = decodeTunnelResponse(bytes);
    } catch (err) {
      exchange.cancel(causeOf(err, 'peer'));
      return;
    }
    onHead(head);
  });
  stream.on('error', (err: unknown) => {
    exchange.cancel(causeOf(err, 'peer'));
  });
  stream.once('close', () => {
    if (stream.readableEnded && stream.writableFinished) exchange.complete();
    else exchange.cancel(STREAM_CLOSED);
  });
  return { exchange, stream };
}

/** The response timeout's cause (HOPGATE_RESPONSE_TIMEOUT_MS, ERR_TIMEOUT, source 'timeout': never retried). */
export function responseTimeoutCause(clientId: string, timeoutMs: number): CancelCause {
  return { code: ErrorCode.Timeout, message: `no response from client "${clientId}" within ${timeoutMs} ms`, source: 'timeout' };
}

/** A cause as the error the request's failure paths (fail, retry, fallback) and its access log take. */
export function failureOf(cause: CancelCause): HopError {
  return new HopError(cause.code, cause.message);
}
