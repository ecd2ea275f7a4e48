import { HopError, ErrorCode } from '@hopgate/errors';
import { decodeTunnelResponse } from '@hopgate/http-tunnel';
import type { RelayClientStream } from '@hopgate/relay';
import type { ResponseHead } from '@hopgate/wire';

/**
 * Waits for the response head of a relay stream: `onHead` with the decoded head, or the
 * stream is destroyed with ERR_TIMEOUT after `timeoutMs` (its 'error' then reports it), or
 * `onFail` with ERR_BAD_FRAME for an undecodable head. Returns whether the head arrived.
 */
export function awaitResponseHead(
  stream: RelayClientStream,
  clientId: string,
  timeoutMs: number,
  onHead: (head: ResponseHead) => void,
  onFail: (err: unknown) => void,
): () => boolean {
  let responded = false;
  const timer = setTimeout(() => {
    if (!responded) stream.destroy(new HopError(ErrorCode.Timeout, `no response from client "${clientId}" within ${timeoutMs} ms`));
  }, timeoutMs);
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
  return () => responded;
}
