/**
 * Small wrappers over an Exchange, each watching one thing and ending the exchange with a cause
 * (the interceptor shape: `wrapper(exchange, ...)`, composed by calling several). Each cleans
 * up after itself when the exchange is done, so none outlives its request.
 */
import type { EventEmitter } from 'node:events';
import { ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import { Exchange, ExchangeState, type CancelCause, type CancelSource } from './exchange.js';

/**
 * Cancels `exchange` with `cause` unless it reached `state` within `ms` (counted from now):
 * the response-head timeout is `deadline(ex, 'streaming', ms, ...)`. `ms <= 0` sets no timer.
 */
export function deadline(exchange: Exchange, state: ExchangeState, ms: number, cause: CancelCause): void {
  if (ms <= 0 || exchange.done) return;
  const order: readonly ExchangeState[] = [ExchangeState.Opening, ExchangeState.Head, ExchangeState.Streaming, ExchangeState.Done];
  if (order.indexOf(exchange.state) >= order.indexOf(state)) return;
  const timer = setTimeout(() => exchange.cancel(cause), ms);
  const onState = (reached: ExchangeState): void => {
    if (order.indexOf(reached) < order.indexOf(state)) return;
    clearTimeout(timer);
    exchange.off('state', onState);
  };
  exchange.on('state', onState);
}

/**
 * `deadline(exchange, state, ms, cause)` whose clock starts when `emitter` emits `event` (once),
 * not now: the ingress's response timeout counts from the end of the upload (its request body's
 * 'end'), so an upload's own duration is never the origin's delay. Nothing is armed if the
 * exchange is done or past `state` by then; the listener goes with the exchange.
 */
export function deadlineFrom(exchange: Exchange, emitter: EventEmitter, event: string, state: ExchangeState, ms: number, cause: CancelCause): void {
  if (exchange.done) return;
  const start = (): void => {
    exchange.off('done', forget);
    deadline(exchange, state, ms, cause);
  };
  const forget = (): void => {
    emitter.off(event, start);
  };
  emitter.once(event, start);
  exchange.once('done', forget);
}

/**
 * Cancels `exchange` with `cause` when `body` delivers no 'data' for `ms` while the exchange
 * runs (the body-idle timeout). `ms <= 0` sets no timer.
 */
export function bodyIdle(exchange: Exchange, body: EventEmitter, ms: number, cause: CancelCause): void {
  if (ms <= 0 || exchange.done) return;
  const timer = setTimeout(() => exchange.cancel(cause), ms);
  const onData = (): void => {
    timer.refresh();
  };
  body.on('data', onData);
  exchange.once('done', () => {
    clearTimeout(timer);
    body.off('data', onData);
  });
}

/**
 * Cancels `exchange` when `emitter` emits `event` before the exchange is done: a peer's close
 * is `cancelOn(ex, relay, 'close', () => ({ code: ErrorCode.StreamReset, ... source: 'client' }))`.
 */
export function cancelOn(exchange: Exchange, emitter: EventEmitter, event: string, cause: () => CancelCause): void {
  if (exchange.done) return;
  const onEvent = (): void => {
    exchange.cancel(cause());
  };
  emitter.once(event, onEvent);
  exchange.once('done', () => emitter.off(event, onEvent));
}

/** Runs `action` once, when the exchange is cancelled (not when it completes). */
export function onCancel(exchange: Exchange, action: (cause: CancelCause) => void): void {
  if (exchange.done) {
    if (exchange.cause) action(exchange.cause);
    return;
  }
  exchange.once('done', (cause) => {
    if (cause) action(cause);
  });
}

/** The cause for an error thrown on the exchange's path: its code (ERR_INTERNAL for a plain error) and message. */
export function causeOf(err: unknown, source: CancelSource, internalAs: ErrorCode = ErrorCode.Internal): CancelCause {
  const code = errorCodeOf(err);
  return { code: code === ErrorCode.Internal ? internalAs : code, message: errorMessageOf(err), source };
}
