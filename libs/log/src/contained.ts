import type { Logger } from './logger.js';

/**
 * `fn`, made safe to hand to a library that calls it from its own I/O loop: whatever it throws is
 * logged at `error` with its stack and goes no further. A NATS subscription callback is the case
 * in point: nats.js calls it from inside its protocol parser, and an exception there ends the
 * connection's reader silently (no more messages, no error, no close).
 */
export function containedCallback<A extends unknown[]>(logger: Logger, what: string, fn: (...args: A) => void): (...args: A) => void {
  return (...args: A): void => {
    try {
      fn(...args);
    } catch (err) {
      logger.error({ err }, `${what} failed: input dropped`);
    }
  };
}
