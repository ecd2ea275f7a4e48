import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { HopError } from '@hopgate/errors';
import { Exchange, ExchangeState, bodyIdle, cancelOn, causeOf, deadline, deadlineFrom, onCancel, type CancelCause } from '../src/index.js';

const timeout: CancelCause = { code: 'ERR_TIMEOUT', message: 'too slow', source: 'timeout' };
const gone: CancelCause = { code: 'ERR_STREAM_RESET', message: 'browser left', source: 'client' };

test('states go forward only: opening -> head -> streaming -> done; a skipped head state is allowed, going back is not', () => {
  const ex = new Exchange();
  const seen: string[] = [];
  ex.on('state', (s) => seen.push(s));
  assert.equal(ex.state, ExchangeState.Opening);
  assert.equal(ex.accepted(), true);
  assert.equal(ex.accepted(), false, 'a second accept is no transition');
  assert.equal(ex.headArrived(), true);
  assert.equal(ex.accepted(), false, 'no way back to head');
  assert.ok(ex.headMs !== undefined && ex.headMs >= 0);
  assert.equal(ex.complete(), true);
  assert.equal(ex.cancel(timeout), false, 'a done exchange takes no cause');
  assert.equal(ex.cause, undefined);
  assert.deepEqual(seen, ['head', 'streaming', 'done']);
  const direct = new Exchange();
  assert.equal(direct.headArrived(), true, 'opening -> streaming (the agent: no accept step)');
  assert.equal(direct.state, ExchangeState.Streaming);
});

test('the first cause wins and done fires once', () => {
  const ex = new Exchange();
  const causes: Array<CancelCause | undefined> = [];
  ex.on('done', (c) => causes.push(c));
  assert.equal(ex.cancel(gone), true);
  assert.equal(ex.cancel(timeout), false);
  assert.equal(ex.complete(), false);
  assert.deepEqual(causes, [gone]);
  assert.equal(ex.cause, gone);
  assert.equal(ex.headMs, undefined);
  const held = ex.heldMs;
  assert.equal(ex.heldMs, held, 'held time stops at done');
});

test('deadline: cancels when the state is not reached in time, never once it is', async () => {
  const late = new Exchange();
  deadline(late, ExchangeState.Streaming, 20, timeout);
  late.accepted();
  await sleep(60);
  assert.equal(late.cause, timeout);
  const inTime = new Exchange();
  deadline(inTime, ExchangeState.Streaming, 30, timeout);
  inTime.headArrived();
  await sleep(60);
  assert.equal(inTime.done, false);
  assert.equal(inTime.complete(), true);
  const already = new Exchange();
  already.headArrived();
  deadline(already, ExchangeState.Head, 1, timeout);
  await sleep(20);
  assert.equal(already.done, false, 'a deadline for a state already passed sets no timer');
  const off = new Exchange();
  deadline(off, ExchangeState.Streaming, 0, timeout);
  await sleep(20);
  assert.equal(off.done, false, '0 ms: no deadline');
});

test('deadlineFrom: the clock starts at the event, not before; none once the state is reached or the exchange is done', async () => {
  const upload = new EventEmitter();
  const ex = new Exchange();
  deadlineFrom(ex, upload, 'end', ExchangeState.Streaming, 30, timeout);
  ex.accepted();
  await sleep(60);
  assert.equal(ex.done, false, 'no clock before the event: a long upload is not the origin\'s delay');
  upload.emit('end');
  await sleep(60);
  assert.equal(ex.cause, timeout, 'cancelled 30 ms after the event');
  assert.equal(upload.listenerCount('end'), 0);
  const answered = new Exchange();
  const body = new EventEmitter();
  deadlineFrom(answered, body, 'end', ExchangeState.Streaming, 20, timeout);
  answered.headArrived();
  body.emit('end');
  await sleep(50);
  assert.equal(answered.done, false, 'the head came before the event: no clock');
  const abandoned = new Exchange();
  const never = new EventEmitter();
  deadlineFrom(abandoned, never, 'end', ExchangeState.Streaming, 20, timeout);
  abandoned.cancel(timeout);
  assert.equal(never.listenerCount('end'), 0, 'the listener goes with the exchange');
  const done = new Exchange();
  done.complete();
  deadlineFrom(done, never, 'end', ExchangeState.Streaming, 20, timeout);
  assert.equal(never.listenerCount('end'), 0, 'nothing armed on a done exchange');
});

test('bodyIdle: data keeps the exchange alive, silence cancels it; the timer goes with the exchange', async () => {
  const body = new EventEmitter();
  const ex = new Exchange();
  bodyIdle(ex, body, 40, timeout);
  for (let i = 0; i < 5; i++) {
    await sleep(15);
    body.emit('data', Buffer.from('x'));
  }
  assert.equal(ex.done, false, '75 ms of trickle at 15 ms gaps is not idle');
  await sleep(80);
  assert.equal(ex.cause, timeout);
  assert.equal(body.listenerCount('data'), 0, 'no listener left behind');
  const completed = new Exchange();
  bodyIdle(completed, body, 10, timeout);
  completed.complete();
  await sleep(30);
  assert.equal(completed.cause, undefined);
});

test('cancelOn and onCancel: a peer event cancels, the action runs on cancel only, listeners are removed when done', () => {
  const peer = new EventEmitter();
  const ex = new Exchange();
  const actions: string[] = [];
  cancelOn(ex, peer, 'close', () => gone);
  onCancel(ex, (c) => actions.push(c.code));
  peer.emit('close');
  assert.equal(ex.cause, gone);
  assert.deepEqual(actions, ['ERR_STREAM_RESET']);
  assert.equal(peer.listenerCount('close'), 0);
  const ok = new Exchange();
  cancelOn(ok, peer, 'close', () => gone);
  onCancel(ok, () => actions.push('wrong'));
  ok.complete();
  assert.equal(peer.listenerCount('close'), 0);
  peer.emit('close');
  assert.deepEqual(actions, ['ERR_STREAM_RESET']);
});

test('causeOf maps errors: a HopError keeps its code, a plain error becomes the given code', () => {
  assert.deepEqual(causeOf(new HopError('ERR_TIMEOUT', 'slow'), 'peer'), { code: 'ERR_TIMEOUT', message: 'slow', source: 'peer' });
  assert.deepEqual(causeOf(new Error('boom'), 'local', 'ERR_STREAM_RESET'), { code: 'ERR_STREAM_RESET', message: 'boom', source: 'local' });
});
