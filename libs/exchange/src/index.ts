export { Exchange, ExchangeState, type CancelCause, type CancelSource, type ExchangeEvents } from './exchange.js';
export { deadline, bodyIdle, cancelOn, onCancel, causeOf } from './wrappers.js';
