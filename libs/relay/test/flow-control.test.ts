import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReceiveWindow, SendCredit } from '../src/flow-control.js';
import { CREDIT_UPDATE_WINDOW_DIVISOR } from '../src/defaults.js';

test('a sender never has more than its window outstanding', () => {
  const credit = new SendCredit(100);
  assert.equal(credit.take(60), 60);
  assert.equal(credit.take(60), 40); // partial: what is left
  assert.equal(credit.take(1), 0);
  assert.equal(credit.outstandingBytes, 100);
  assert.equal(credit.grant(30), true);
  assert.equal(credit.take(100), 30);
  assert.equal(credit.outstandingBytes, 100);
  assert.equal(credit.sentBytes, 130);
});

test('a sender refuses credit for bytes it never sent', () => {
  const credit = new SendCredit(100);
  credit.take(50);
  assert.equal(credit.grant(51), false);
  assert.equal(credit.grant(50), true);
  assert.equal(credit.grant(1), false);
  assert.equal(credit.available, 100);
});

test('a receiver rejects data beyond its window', () => {
  const window = new ReceiveWindow(100);
  assert.equal(window.onData(100), true);
  assert.equal(window.onData(1), false);
  assert.equal(window.receivedBytes, 100);
});

test('a receiver grants credit only for consumed bytes, in batches of half a window (RFC 9000 §4.2)', () => {
  assert.equal(CREDIT_UPDATE_WINDOW_DIVISOR, 2);
  const window = new ReceiveWindow(100);
  window.onData(100);
  assert.equal(window.onConsumed(100), 0, 'nothing read, nothing granted');
  assert.equal(window.onConsumed(51), 0, '49 read: below the 50 byte batch');
  assert.equal(window.onConsumed(40), 60, '60 read: granted');
  assert.equal(window.onConsumed(40), 0, 'granted once only');
  assert.equal(window.outstandingBytes, 40);
  assert.equal(window.onData(60), true, 'the peer may use the granted 60');
  assert.equal(window.onData(1), false);
  assert.equal(window.onConsumed(0), 100);
  assert.equal(window.grantedBytes, 160);
});

test('credit batching never stalls: a drained reader leaves the sender more than half the window', () => {
  // Simulate sender and receiver with 7-byte frames and a reader that drains one frame at a time.
  const windowBytes = 100;
  const send = new SendCredit(windowBytes);
  const receive = new ReceiveWindow(windowBytes);
  let buffered = 0;
  let delivered = 0;
  const total = 10_000;
  let sent = 0;
  for (let rounds = 0; delivered < total; rounds += 1) {
    assert.ok(rounds < 100_000, 'stalled');
    const n = send.take(Math.min(7, total - sent));
    if (n > 0) {
      sent += n;
      assert.equal(receive.onData(n), true);
      buffered += n;
    }
    if (buffered > 0) {
      const read = Math.min(7, buffered);
      buffered -= read;
      delivered += read;
      const grant = receive.onConsumed(buffered);
      if (grant > 0) assert.equal(send.grant(grant), true);
    }
    assert.ok(send.outstandingBytes <= windowBytes);
  }
  assert.equal(delivered, total);
});
