import type { Readable } from 'node:stream';

/**
 * Calls `onIdle` once if `body` delivers no data for `idleMs` while it is flowing.
 * Time spent paused does not count: a pause is backpressure from the tunnel (the origin
 * reads slowly), not a stalled browser. Watching starts when the body starts flowing
 * (it is piped) and stops at its end, at `stop()`, or when it closes. Call it after
 * `body.pipe(...)`: a 'data' listener on a body nobody reads yet would start it flowing.
 */
export function watchBodyIdle(body: Readable, idleMs: number, onIdle: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const disarm = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const arm = (): void => {
    // A 'resume' scheduled before a pause still fires after it: only a flowing body is watched.
    if (body.readableFlowing !== true) return disarm();
    if (timer) timer.refresh();
    else timer = setTimeout(fire, idleMs);
  };
  const stop = (): void => {
    disarm();
    body.off('data', arm);
    body.off('resume', arm);
    body.off('pause', disarm);
    body.off('end', stop);
    body.off('close', stop);
  };
  const fire = (): void => {
    timer = undefined;
    stop();
    onIdle();
  };
  body.on('data', arm);
  body.on('resume', arm);
  body.on('pause', disarm);
  body.once('end', stop);
  body.once('close', stop);
  if (body.readableFlowing) arm();
  return stop;
}
