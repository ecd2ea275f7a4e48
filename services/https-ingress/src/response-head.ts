import { HopError, ErrorCode } from '@hopgate/errors';
import { decodeTunnelResponse } from '@hopgate/http-tunnel';
import type { RelayClientStream } from '@hopgate/relay';
import type { ResponseHead } from '@hopgate/wire';

/** The wait for a response head (see awaitResponseHead). */
export interface ResponseWait {
  /** Whether the response head arrived. */
  responded(): boolean;
  /** Starts the timeout clock (once; a no-op if it runs already). */
  startClock(): void;
  /** Whether this wait's own clock ran out (HOPGATE_RESPONSE_TIMEOUT_MS): such a request is never retried. */
  timedOut(): boolean;
}

/**
 * Waits for the response head of a relay stream: `onHead` with the decoded head, or the
 * stream is destroyed with ERR_TIMEOUT `timeoutMs` after the clock started (its 'error'
 * then reports it), or `onFail` with ERR_BAD_FRAME for an undecodable head. The clock
 * starts at once, or with `deferStart` only at startClock() (when the request body has
 * been forwarded: an upload's own duration is not the origin's delay; a stalled upload is
 * the body idle timeout's business).
 */
export function awaitResponseHead(
  stream: RelayClientStream,
  clientId: string,
  timeoutMs: number,
  onHead: (head: ResponseHead) => void,
  onFail: (err: unknown) => void,
  deferStart = false,
): ResponseWait {
  let responded = false;
  let expired = false;
  let timer: NodeJS.Timeout | undefined;
  const startClock = (): void => {
    if (timer || responded || stream.destroyed) return;
    timer = setTimeout(() => {
      if (responded) return;
      expired = true;
      stream.destroy(new HopError(ErrorCode.Timeout, `no response from client "${clientId}" within ${timeoutMs} ms`));
    }, timeoutMs);
  };
  const stop = (): void => clearTimeout(timer);
  stream.once('close', stop);
  stream.once('response', (bytes: Uint8Array) => {
    responded = true;
    stop();
    let head: ResponseHead;
    try {
      head = decodeTunnelResponse(bytes);
    } catch (err) {
      stream.destroy();
      onFail(err);
      return;
    }
    onHead(head);
  });
  if (!deferStart) startClock();
  return { responded: () => responded, startClock, timedOut: () => expired };
}
