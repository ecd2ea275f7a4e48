import { HopError, ErrorCode } from '@hopgate/errors';
import { decodeTunnelResponse } from '@hopgate/http-tunnel';
import type { RelayClientStream } from '@hopgate/relay';
import type { ResponseHead } from '@hopgate/wire';

/**
 * Waits for the response head of a relay stream: `onHead` with the decoded head, or the
 * stream is destroyed with ERR_TIMEOUT `timeoutMs` after the request was fully sent (its
 * 'error' then reports it), or `onFail` with ERR_BAD_FRAME for an undecodable head. Returns
 * whether the head arrived.
 *
 * The clock starts once the request body is out ('finish': END sent), not at open: an upload
 * that takes longer than `timeoutMs` is not cut (a stalled one is ended by the relay's idle
 * timeout instead).
 */
export function awaitResponseHead(
  stream: RelayClientStream,
  clientId: string,
  timeoutMs: number,
  onHead: (head: ResponseHead) => void,
  onFail: (err: unknown) => void,
): () => boolean {
  let responded = false;
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => clearTimeout(timer);
  stream.once('finish', () => {
    if (responded || stream.destroyed) return;
    timer = setTimeout(() => {
      if (!responded) stream.destroy(new HopError(ErrorCode.Timeout, `no response from client "${clientId}" within ${timeoutMs} ms of the end of the request`));
    }, timeoutMs);
  });
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
