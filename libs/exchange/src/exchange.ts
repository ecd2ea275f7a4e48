/**
 * One request's exchange, as an explicit state machine shared by the ingress, the hub and the
 * agent (issue 12). Each service's request code is a short pipeline of wrappers (wrappers.ts)
 * over it, in the shape of undici's interceptors: each takes the exchange, watches one thing
 * (a timer, a body's silence, a peer's close) and ends the exchange with a cause.
 *
 *   opening --accepted()--> head --headArrived()--> streaming --complete()--> done
 *      |                      |                         |
 *      +----------------------+------ cancel(cause) ----+-----------------> done (with a cause)
 *
 * opening: the request is on its way to the next hop (relay OPEN sent, local request dispatched)
 * head: the next hop took it; waiting for the response head
 * streaming: the response head is there; the bodies flow
 * done: complete, or cancelled with exactly one cause (the first one wins)
 */
import { EventEmitter } from 'node:events';
import type { ErrorCode } from '@hopgate/errors';

export const ExchangeState = {
  Opening: 'opening',
  Head: 'head',
  Streaming: 'streaming',
  Done: 'done',
} as const;
export type ExchangeState = (typeof ExchangeState)[keyof typeof ExchangeState];

/** Who ended an exchange before it completed. */
export type CancelSource = 'client' | 'peer' | 'timeout' | 'local';

/** Why an exchange was cancelled: a stable error code, a message for logs, and who did it. */
export interface CancelCause {
  readonly code: ErrorCode;
  readonly message: string;
  readonly source: CancelSource;
}

/** Order of the states: a transition goes forward only. */
const ORDER: Readonly<Record<ExchangeState, number>> = { opening: 0, head: 1, streaming: 2, done: 3 };

export interface ExchangeEvents {
  /** Entered `state` (never emitted for the state an exchange starts in). */
  state: [state: ExchangeState];
  /** Reached done: `cause` is undefined for a completed exchange. */
  done: [cause: CancelCause | undefined];
}

export class Exchange extends EventEmitter<ExchangeEvents> {
  private current: ExchangeState = ExchangeState.Opening;
  private endCause: CancelCause | undefined;
  /** performance.now() at the start, in ms. */
  readonly startedAt = performance.now();
  private headTime: number | undefined;
  private doneTime: number | undefined;

  get state(): ExchangeState {
    return this.current;
  }

  /** Why it was cancelled; undefined while running and for a completed exchange. */
  get cause(): CancelCause | undefined {
    return this.endCause;
  }

  get done(): boolean {
    return this.current === ExchangeState.Done;
  }

  /** Start to the response head, in ms; undefined before it. */
  get headMs(): number | undefined {
    return this.headTime === undefined ? undefined : this.headTime - this.startedAt;
  }

  /** Start to done (or to now while running), in ms. */
  get heldMs(): number {
    return (this.doneTime ?? performance.now()) - this.startedAt;
  }

  /** The next hop took the request: opening -> head. */
  accepted(): boolean {
    return this.advance(ExchangeState.Head);
  }

  /** The response head arrived: (opening | head) -> streaming. */
  headArrived(): boolean {
    if (!this.advance(ExchangeState.Streaming)) return false;
    this.headTime = performance.now();
    return true;
  }

  /** Both bodies are whole: -> done without a cause. */
  complete(): boolean {
    return this.finish(undefined);
  }

  /** Ends the exchange with `cause` unless it is already done; the first cause wins. */
  cancel(cause: CancelCause): boolean {
    return this.finish(cause);
  }

  private advance(to: ExchangeState): boolean {
    if (ORDER[to] <= ORDER[this.current]) return false;
    this.current = to;
    this.emit('state', to);
    return true;
  }

  private finish(cause: CancelCause | undefined): boolean {
    if (this.current === ExchangeState.Done) return false;
    this.endCause = cause;
    this.doneTime = performance.now();
    this.current = ExchangeState.Done;
    this.emit('state', ExchangeState.Done);
    this.emit('done', cause);
    return true;
  }
}
