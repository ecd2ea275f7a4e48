import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { Logger } from '@hopgate/log';
import { ErrorCode, HopError } from '@hopgate/errors';
import { SlidingWindowLimit } from './sliding-window.js';

/**
 * The sliding window of HOPGATE_H2_MAX_RESETS_PER_WINDOW, in ms: a connection may reset that
 * many streams before their response within any H2_RESET_WINDOW_MS.
 */
export const H2_RESET_WINDOW_MS = 30_000;

export interface StreamResetGuardOptions {
  /** Streams the client may reset before their response per H2_RESET_WINDOW_MS; 0 = no limit. */
  maxResetsPerWindow: number;
  /** The client address, for the log line. */
  remote: string | undefined;
  logger: Logger;
}

/**
 * HTTP/2 "rapid reset" guard (CVE-2023-44487). Counts, per connection, the streams the client
 * closes before their response head left (RST_STREAM from the client: the ingress itself
 * always answers before it resets a stream); one more than `maxResetsPerWindow` within
 * H2_RESET_WINDOW_MS and the connection gets GOAWAY(ENHANCE_YOUR_CALM) (RFC 9113 §5.4.1, §7)
 * and is closed at once, its other streams with it. Logged once per connection, at warn.
 * Streams cut by the connection's own end (the socket closed, GOAWAY) do not count.
 */
export function guardStreamResets(session: http2.ServerHttp2Session, options: StreamResetGuardOptions): void {
  if (options.maxResetsPerWindow === 0) return;
  const limit = new SlidingWindowLimit(options.maxResetsPerWindow, H2_RESET_WINDOW_MS);
  let tripped = false;
  session.on('stream', (stream: http2.ServerHttp2Stream) => {
    stream.once('close', () => {
      if (tripped || stream.headersSent || session.destroyed || session.closed) return;
      if (!limit.hit(performance.now())) return;
      tripped = true;
      options.logger.warn(
        { remote: options.remote, max_resets: options.maxResetsPerWindow, window_ms: H2_RESET_WINDOW_MS },
        'http/2 connection closed: too many streams reset by the client (rapid reset)',
      );
      // One GOAWAY carrying the code (goaway() then destroy() would send a second, NO_ERROR one).
      session.destroy(new HopError(ErrorCode.Protocol, 'too many streams reset by the client'), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    });
  });
}
