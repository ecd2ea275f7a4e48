export { Exchange, ExchangeState, type CancelCause, type CancelSource, type ExchangeEvents } from './exchange.js';
export { deadline, deadlineFrom, bodyIdle, cancelOn, onCancel, causeOf } from './wrappers.js';
