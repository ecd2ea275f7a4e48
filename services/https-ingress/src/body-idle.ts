import type { Readable } from 'node:stream';
import { ErrorCode } from '@hopgate/errors';
import type { CancelCause, Exchange } from '@hopgate/exchange';

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

/**
 * Calls `onTimeout` once if `body` delivers no byte within `startMs`: a request that announced
 * a body (Content-Length > 0, chunked, HTTP/2 HEADERS without END_STREAM) and never sends it.
 * Stops at the first byte, at the body's end (an empty body), at close, or at `stop()`. Like
 * watchBodyIdle, call it after `body.pipe(...)`.
 */
export function watchBodyStart(body: Readable, startMs: number, onTimeout: () => void): () => void {
  if (body.readableEnded) return () => undefined;
  const stop = (): void => {
    clearTimeout(timer);
    body.off('data', stop);
    body.off('end', stop);
    body.off('close', stop);
  };
  const timer = setTimeout(() => {
    stop();
    onTimeout();
  }, startMs);
  body.on('data', stop);
  body.once('end', stop);
  body.once('close', stop);
  return stop;
}

/** Why a request body was given up. */
export interface BodyStall {
  /** `not_started`: no byte within the start limit; `idle`: no progress within the idle limit. */
  readonly kind: 'not_started' | 'idle';
  readonly timeoutMs: number;
  /** What the browser is told. */
  readonly reason: string;
  /** The message of the log line. */
  readonly logMessage: string;
  /** The log field carrying the limit. */
  readonly logField: 'body_start_timeout_ms' | 'body_idle_timeout_ms';
}

export interface BodyLimits {
  /** HOPGATE_BODY_START_TIMEOUT_MS. */
  startTimeoutMs: number;
  /** HOPGATE_BODY_IDLE_TIMEOUT_MS. */
  idleTimeoutMs: number;
}

/**
 * Both watches on an announced request body (call after `body.pipe(...)`): `onStall` once, for
 * the first of "never started" (watchBodyStart) and "stalled while flowing" (watchBodyIdle).
 * Returns stop().
 */
export function watchBody(body: Readable, limits: BodyLimits, onStall: (stall: BodyStall) => void): () => void {
  let done = false;
  const stop = (): void => {
    done = true;
    stopStart();
    stopIdle();
  };
  const fire = (stall: BodyStall): void => {
    if (done) return;
    stop();
    onStall(stall);
  };
  const stopStart = watchBodyStart(body, limits.startTimeoutMs, () =>
    fire({
      kind: 'not_started',
      timeoutMs: limits.startTimeoutMs,
      reason: 'the request body did not start in time',
      logMessage: 'request body never started: cancelling',
      logField: 'body_start_timeout_ms',
    }),
  );
  const stopIdle = watchBodyIdle(body, limits.idleTimeoutMs, () =>
    fire({
      kind: 'idle',
      timeoutMs: limits.idleTimeoutMs,
      reason: 'the request body made no progress in time',
      logMessage: 'request body idle: cancelling',
      logField: 'body_idle_timeout_ms',
    }),
  );
  return stop;
}

/** The cause a stalled request body cancels its exchange with (ERR_TIMEOUT, source 'timeout'; answered 408). */
export interface BodyStallCause extends CancelCause {
  readonly stall: BodyStall;
}

export function isBodyStall(cause: CancelCause): cause is BodyStallCause {
  return (cause as Partial<BodyStallCause>).stall !== undefined;
}

/**
 * The wrapper over an exchange (libs/exchange's shape): watchBody on an announced request body,
 * a stall cancels `exchange` with a BodyStallCause; the watches end with the exchange. Like
 * watchBody, call it after `body.pipe(...)`. (Not libs/exchange's bodyIdle: time spent paused by
 * backpressure does not count here, and a body that never starts has its own limit.)
 */
export function cancelOnBodyStall(exchange: Exchange, body: Readable, limits: BodyLimits): void {
  if (exchange.done) return;
  const stop = watchBody(body, limits, (stall) => {
    const cause: BodyStallCause = { code: ErrorCode.Timeout, message: stall.reason, source: 'timeout', stall };
    exchange.cancel(cause);
  });
  exchange.once('done', stop);
}
