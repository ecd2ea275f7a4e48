import assert from 'node:assert/strict';
import { afterEach, mock, test } from 'node:test';
import type { Connection, ConnectionStats, TransportStream } from '../src/index.js';
import { connectPair, type Pair, TEST_TIMEOUT_MS } from '../test-support/helpers.js';

/**
 * Datagrams per request/response exchange between two real Connections, in the shape of the
 * hub (client: opens a stream, writes the request head and FIN in one turn) and the agent
 * (server: answers a few loop turns later, as an origin would, head and body in one turn).
 * Every datagram is a sendmsg and a wakeup of the other process: one each way is the floor.
 *
 * setTimeout is mocked (never fires): no ACK-delay or probe timer can add a datagram, so the
 * counts do not depend on the speed of the machine. Only datagrams the exchange itself
 * causes are counted.
 */

const REQUEST_HEAD = Buffer.alloc(300, 0x71);
const RESPONSE_HEAD = Buffer.alloc(200, 0x72);
// Head and body fit one packet of the memory link (1160 bytes), as a 1 KiB response does on the DTLS link after PMTU discovery.
const RESPONSE_BODY = Buffer.alloc(700, 0x73);
/** Loop turns the "origin" takes to answer (the agent's HTTP round trip to the local service). */
const ORIGIN_TURNS = 3;
const WARMUP_EXCHANGES = 3;
const MEASURED_EXCHANGES = 20;

let pair: Pair | undefined;
afterEach(() => {
  pair?.close();
  mock.timers.reset();
});

function laterTurns(turns: number): Promise<void> {
  return new Promise((resolve) => {
    const step = (left: number): void => {
      if (left === 0) resolve();
      else setImmediate(() => step(left - 1));
    };
    step(turns);
  });
}

/** The agent's part: read the request to its end, answer after the origin's turns. */
function serveLikeAgent(server: Connection): void {
  server.on('stream', (stream: TransportStream) => {
    stream.on('error', () => undefined);
    stream.resume();
    stream.once('end', () => {
      void laterTurns(ORIGIN_TURNS).then(() => {
        stream.write(RESPONSE_HEAD);
        stream.write(RESPONSE_BODY);
        stream.end();
      });
    });
  });
}

/** The hub's part: one request stream, the whole response read. */
async function exchange(client: Connection): Promise<void> {
  const stream = client.openStream();
  stream.on('error', () => undefined);
  stream.write(REQUEST_HEAD);
  stream.end();
  let received = 0;
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  await new Promise((resolve) => stream.once('end', resolve));
  assert.equal(received, RESPONSE_HEAD.length + RESPONSE_BODY.length);
}

interface Sent {
  datagrams: number;
  ackOnly: number;
}

function sentBy(stats: ConnectionStats): Sent {
  return { datagrams: stats.packetsSent, ackOnly: stats.ackOnlyPacketsSent };
}

function delta(after: Sent, before: Sent): Sent {
  return { datagrams: after.datagrams - before.datagrams, ackOnly: after.ackOnly - before.ackOnly };
}

test('one request/response exchange at a time costs one datagram each way', { timeout: TEST_TIMEOUT_MS }, async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  pair = connectPair({ seed: 121 });
  const { client, server } = pair;
  serveLikeAgent(server);
  for (let i = 0; i < WARMUP_EXCHANGES; i++) await exchange(client);
  const clientBefore = sentBy(client.stats());
  const serverBefore = sentBy(server.stats());
  for (let i = 0; i < MEASURED_EXCHANGES; i++) await exchange(client);
  const fromClient = delta(sentBy(client.stats()), clientBefore);
  const fromServer = delta(sentBy(server.stats()), serverBefore);
  // Request: head + FIN, with the ACK of the previous response (RFC 9000 §13.2.1 lets it wait for it).
  assert.deepEqual(fromClient, { datagrams: MEASURED_EXCHANGES, ackOnly: 0 });
  // Response: ACK of the request + head + body + FIN (+ MAX_STREAMS for the stream that closed).
  assert.deepEqual(fromServer, { datagrams: MEASURED_EXCHANGES, ackOnly: 0 });
  assert.equal(client.stats().packetsLost + server.stats().packetsLost, 0);
});

/** The connection's one timer (white box): when it fires, and the earliest deadline it serves. */
function timerOf(connection: Connection): { armedFor: number; nextDeadline: number } {
  const inside = connection as unknown as { timerDeadline: number; nextDeadline(now: number): number };
  return { armedFor: inside.timerDeadline, nextDeadline: inside.nextDeadline(performance.now()) };
}

test('the timer follows its deadline when it moves later: no wakeup with nothing due', { timeout: TEST_TIMEOUT_MS }, async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  pair = connectPair({ seed: 122 });
  const { client, server } = pair;
  serveLikeAgent(server);
  // Each exchange moves both sides' deadlines: the delayed ACK rides on the next packet, the
  // request in flight is acknowledged by the response.
  for (let i = 0; i < WARMUP_EXCHANGES + MEASURED_EXCHANGES; i++) await exchange(client);
  for (const connection of [client, server]) {
    const { armedFor, nextDeadline } = timerOf(connection);
    // Armed for the earliest deadline (within a timer granularity), not for one already gone.
    assert.ok(nextDeadline - armedFor < 1, `timer armed for ${armedFor}, next deadline ${nextDeadline}`);
  }
});
