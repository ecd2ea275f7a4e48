/**
 * The small pieces of the edge's abuse limits: the sliding-window counter of the rapid-reset
 * guard, the client address connections are counted by, and the per-address connection
 * limit over real loopback sockets (127.0.0.1 and 127.0.0.2 are two clients).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { captureLogger, waitFor } from '@hopgate/testkit';
import { SlidingWindowLimit, ConnectionAddresses, ConnectionLimit, CONNECTION_REFUSAL_LOG_INTERVAL_MS } from '../src/index.js';

/** Open connections per address in the ConnectionLimit test. */
const PER_ADDRESS = 3;

test('sliding window: the (limit + 1)th event within the window is over, events older than the window free room', () => {
  const limit = new SlidingWindowLimit(3, 1000);
  assert.deepEqual([0, 100, 200].map((t) => limit.hit(t)), [false, false, false]);
  assert.equal(limit.hit(999), true, '4 events within 1000 ms');
  // The window slides: the last 3 events kept are 100, 200, 999; at 1_200 the one at 100 is 1_100 ms old.
  assert.equal(limit.hit(1_200), false);
  assert.equal(limit.hit(2_300), false);
  assert.equal(limit.hit(2_301), false);
  assert.equal(limit.hit(2_302), false, 'the event at 1_200 is 1_102 ms old');
  assert.equal(limit.hit(2_303), true, '2_300..2_303: 4 events within 3 ms');
});

test('sliding window: a steady rate just under the limit never trips, one just over does', () => {
  const under = new SlidingWindowLimit(10, 1000);
  for (let t = 0; t < 60_000; t += 101) assert.equal(under.hit(t), false, `at ${t}`);
  const over = new SlidingWindowLimit(10, 1000);
  let tripped = false;
  for (let t = 0; t < 2_000 && !tripped; t += 99) tripped = over.hit(t);
  assert.equal(tripped, true);
  assert.throws(() => new SlidingWindowLimit(0, 1000), RangeError);
});

test('connection limit: the cap per address, another address unaffected, a closed connection frees its slot, the table empties, one log line per interval', async () => {
  const { logger, lines } = captureLogger('info');
  let now = 1_000_000;
  const limit = new ConnectionLimit({ maxPerAddress: PER_ADDRESS, logger, now: () => now });
  const admitted: net.Socket[] = [];
  const addresses = new ConnectionAddresses();
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    if (limit.admit(socket, addresses.of(socket).address, 'test')) admitted.push(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const clients: net.Socket[] = [];
  /** Connects from `localAddress`; resolves 'open' if the server keeps it past a round trip, 'closed' if it closes it. */
  const connect = (localAddress: string): Promise<'open' | 'closed'> =>
    new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress });
      clients.push(socket);
      socket.on('error', () => undefined);
      socket.once('close', () => resolve('closed'));
      const seen = admitted.length;
      socket.once('connect', () => {
        void waitFor('the server to decide', () => admitted.length > seen || socket.destroyed || socket.readableEnded).then(
          () => resolve(admitted.length > seen ? 'open' : 'closed'),
          () => resolve('closed'),
        );
      });
    });
  try {
    for (let i = 0; i < PER_ADDRESS; i++) assert.equal(await connect('127.0.0.1'), 'open');
    assert.equal(await connect('127.0.0.1'), 'closed');
    assert.equal(await connect('127.0.0.1'), 'closed');
    assert.equal(await connect('127.0.0.2'), 'open', 'another address has its own count');
    assert.equal(limit.refusedCount, 2);
    assert.equal(limit.addressCount, 2);
    assert.equal(limit.connectionsOf('127.0.0.1'), PER_ADDRESS);
    const refusals = lines.filter((l) => l['msg'] === 'connection refused: too many open connections from this address');
    assert.equal(refusals.length, 1, 'one line for two refusals within the interval');
    assert.equal(refusals[0]!['remote'], '127.0.0.1');
    assert.equal(refusals[0]!['level'], 'warn');
    assert.equal(refusals[0]!['refused'], 1);
    // After the interval, the next refusal logs again and reports the one that was not logged.
    now += CONNECTION_REFUSAL_LOG_INTERVAL_MS;
    assert.equal(await connect('127.0.0.1'), 'closed');
    const after = lines.filter((l) => l['msg'] === 'connection refused: too many open connections from this address');
    assert.equal(after.length, 2);
    assert.equal(after[1]!['refused'], 2);
    assert.equal(after[1]!['refused_total'], 3);
    // A closed connection frees its slot.
    admitted[0]!.destroy();
    await waitFor('the slot freed', () => limit.connectionsOf('127.0.0.1') === PER_ADDRESS - 1);
    assert.equal(await connect('127.0.0.1'), 'open');
    // Every connection closed: no address left in the table.
    for (const socket of [...admitted, ...clients]) socket.destroy();
    await waitFor('the table empty', () => limit.addressCount === 0);
  } finally {
    for (const socket of clients) socket.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
