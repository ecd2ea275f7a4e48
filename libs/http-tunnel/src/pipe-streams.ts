import type { Duplex, Readable, Writable } from 'node:stream';

/** The error of a stream that closed before its end (as node:stream names it). */
export function prematureCloseError(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/**
 * `pipeline(source, ...through, destination)` from node:stream/promises, for the per-request
 * paths, without its fixed cost per call (an AbortController, and on completion an AbortError
 * DOMException plus a destroy error per stream: about 5% of the hub's and the agent's CPU per
 * GET). Same contract: resolves once the destination has finished; if any stream errors or
 * closes before its end, destroys them all with that error and rejects with it.
 */
export function pipeStreams(...streams: [Readable, ...Duplex[], Writable]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const last = streams.length - 1;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      for (const s of streams) if (!s.destroyed) s.destroy(err);
      reject(err);
    };
    // Whether the sides of stream i that this pipe uses are complete.
    const complete = (s: Readable | Writable, i: number): boolean =>
      (i === last || (s as Readable).readableEnded) && (i === 0 || (s as Writable).writableFinished);
    streams.forEach((s, i) => {
      // Kept after settling: a late error of a destroyed stream must not become uncaught.
      s.on('error', fail);
      s.once('close', () => {
        if (!complete(s, i)) fail(prematureCloseError());
      });
      if (s.destroyed && !complete(s, i)) fail(prematureCloseError());
    });
    if (settled) return;
    streams[last]!.once('finish', () => {
      if (settled) return;
      settled = true;
      resolve();
    });
    for (let i = 0; i < last; i += 1) {
      const from = streams[i] as Readable;
      const to = streams[i + 1] as Writable;
      if (from.readableEnded) to.end();
      else from.pipe(to);
    }
  });
}
