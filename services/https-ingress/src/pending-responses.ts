import type { Duplex } from 'node:stream';

/** What node attaches to a server socket while a response is being written on it. */
interface SocketWithResponse {
  _httpMessage?: (NodeJS.EventEmitter & { headersSent?: boolean }) | null;
}

/** Whether a response is being written on this HTTP/1.1 connection (node's, or queued pipelined ones after it). */
export function responsePending(socket: Duplex): boolean {
  return Boolean((socket as Duplex & SocketWithResponse)._httpMessage);
}

/**
 * Calls `then` once no response is pending on this HTTP/1.1 connection. node writes the answers
 * to pipelined requests one after another (it assigns the next response to the socket when the
 * current one finishes), and RFC 9112 §9.3.2 wants them in the order of the requests: whatever
 * the edge writes to the raw socket itself (an error answer, an upgrade's answer) must wait for
 * them. Not called if the connection closes first.
 */
export function afterPendingResponses(socket: Duplex, then: () => void): void {
  const check = (): void => {
    if (socket.destroyed) return;
    const current = (socket as Duplex & SocketWithResponse)._httpMessage;
    if (!current) {
      then();
      return;
    }
    // node's own 'finish' handler, registered first, hands the socket to the next queued response.
    const next = (): void => {
      current.off('finish', next);
      current.off('close', next);
      setImmediate(check);
    };
    current.once('finish', next);
    current.once('close', next);
  };
  check();
}
