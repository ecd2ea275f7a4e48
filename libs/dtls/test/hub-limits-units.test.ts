/** The hub's bounds as units: fragment checks, handshake budget, admission, final flight, throttled logs, no amplification. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HopError, ErrorCode } from '@hopgate/errors';
import { RawDtlsPeer, captureLogger, rawClientHello, rawHandshakeFragment, rawRecord, RAW_CONTENT_TYPE, RAW_HANDSHAKE_TYPE, waitFor } from '@hopgate/testkit';
import { DtlsServer } from 'werift-dtls/lib/dtls/src/server.js';
import { FragmentedHandshake } from 'werift-dtls/lib/dtls/src/record/message/fragment.js';
import { parseClientHello } from '../src/client-hello.js';
import { helloVerifyRequestWithin } from '../src/cookie.js';
import { FinalFlight } from '../src/final-flight.js';
import { HandshakeBudget } from '../src/handshake-budget.js';
import { parseClientFlightFragments } from '../src/handshake-fragment.js';
import { PeerAdmission, sourceKeyOf } from '../src/peer-admission.js';
import { parseRecords, type DtlsRecord } from '../src/record.js';
import { SourceTokenBuckets } from '../src/source-token-buckets.js';
import { ThrottledLog } from '@hopgate/log';
import { DtlsHubServer, MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES, MAX_FINAL_FLIGHT_RETRANSMITTED_RECORDS, MAX_HANDSHAKE_FRAGMENTS_PER_PEER } from '../src/index.js';
import { makeTestPki } from '../test-support/certs.js';

function recordOf(datagram: Buffer): DtlsRecord {
  const record = parseRecords(datagram)?.[0];
  assert.ok(record);
  return record;
}

describe('client flight fragments (RFC 6347 §4.2.3)', () => {
  const parse = (fragment: Buffer): ReturnType<typeof parseClientFlightFragments> => parseClientFlightFragments(fragment, MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES);

  test('whole and partial messages of the client types pass, several per record', () => {
    const keyExchange = rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.clientKeyExchange, messageSeq: 2, body: randomBytes(66) });
    const part = rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.certificate, length: 1000, fragmentOffset: 900, body: randomBytes(100) });
    const headers = parse(Buffer.concat([keyExchange, part]));
    assert.deepEqual(headers, [
      { msgType: 16, length: 66, messageSeq: 2, fragmentOffset: 0, fragmentLength: 66 },
      { msgType: 11, length: 1000, messageSeq: 0, fragmentOffset: 900, fragmentLength: 100 },
    ]);
  });

  test('fragments outside their message, too long, empty, truncated, or of other types are refused', () => {
    const cases: Buffer[] = [
      rawHandshakeFragment({ msgType: 11, length: 1000, fragmentOffset: 901, body: randomBytes(100) }),
      rawHandshakeFragment({ msgType: 11, length: MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES + 1, body: randomBytes(10) }),
      rawHandshakeFragment({ msgType: 11, length: 10, fragmentLength: 0, body: Buffer.alloc(0) }),
      rawHandshakeFragment({ msgType: 16, length: 66, fragmentLength: 66, body: randomBytes(65) }),
      rawHandshakeFragment({ msgType: 16, body: randomBytes(66) }).subarray(0, 11),
      rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.clientHello, body: randomBytes(60) }),
      rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.finished, body: randomBytes(12) }),
      rawHandshakeFragment({ msgType: 2, body: randomBytes(40) }),
      Buffer.alloc(0),
    ];
    for (const [index, fragment] of cases.entries()) assert.equal(parse(fragment), null, `case ${index}`);
    assert.deepEqual(parse(rawHandshakeFragment({ msgType: 15, length: 0, body: Buffer.alloc(0) }))?.length, 1, 'an empty message is whole');
  });
});

describe('HandshakeBudget', () => {
  const part = { msgType: 11, length: 1000, messageSeq: 2, fragmentOffset: 0, fragmentLength: 300 };
  const whole = { msgType: 16, length: 66, messageSeq: 2, fragmentOffset: 0, fragmentLength: 66 };

  test('records, partial fragments and their bytes each have a cap; once passed it stays exhausted', () => {
    const records = new HandshakeBudget({ records: 3, fragments: 10, fragmentBytes: 10_000 });
    assert.equal(records.charge([whole]), true);
    assert.equal(records.charge(), true);
    assert.equal(records.charge([whole]), true);
    assert.equal(records.charge(), false);
    assert.equal(records.charge(), false);

    const fragments = new HandshakeBudget({ records: 100, fragments: 2, fragmentBytes: 10_000 });
    assert.equal(fragments.charge([part, whole, whole]), true, 'whole messages are not buffered');
    assert.equal(fragments.charge([part]), true);
    assert.equal(fragments.charge([part]), false);

    const bytes = new HandshakeBudget({ records: 100, fragments: 100, fragmentBytes: 700 });
    assert.equal(bytes.charge([part, part]), true);
    assert.equal(bytes.charge([part]), false, '900 bytes > 700');
  });
});

describe('PeerAdmission', () => {
  test('IPv4 by address, IPv4-mapped as IPv4, IPv6 by /64', () => {
    assert.equal(sourceKeyOf('192.0.2.7'), '192.0.2.7');
    assert.equal(sourceKeyOf('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(sourceKeyOf('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(sourceKeyOf('2001:0db8:0001:0002:ffff:ffff:ffff:fffe'), '2001:db8:1:2::/64');
    assert.equal(sourceKeyOf('2001:DB8:1:2::7'), '2001:db8:1:2::/64', 'one key per /64 whatever the spelling');
    assert.equal(sourceKeyOf('2001:db8::5'), '2001:db8::/64');
    assert.equal(sourceKeyOf('2001:db8:0:0:1::5'), '2001:db8::/64');
    assert.equal(sourceKeyOf('fe80::1%eth0'), 'fe80::/64');
    assert.equal(sourceKeyOf('::1'), '::/64');
    assert.equal(sourceKeyOf('::ffff:c000:207'), '192.0.2.7', 'IPv4-mapped in hex groups');
    assert.equal(sourceKeyOf('not an address'), 'not an address');
  });

  test('per-source handshakes, per-source handshakes + unauthenticated, and the global share; counts return to zero', () => {
    const admission = new PeerAdmission({ maxHandshakesPerIp: 2, maxUnauthenticatedPerIp: 3, maxUnauthenticated: 4 });
    admission.handshakeStarted('a');
    admission.handshakeStarted('a');
    assert.equal(admission.refusal('a'), 'ip_handshakes');
    admission.handshakeCompleted('a');
    admission.handshakeStarted('a');
    assert.equal(admission.refusal('a'), 'ip_handshakes');
    admission.handshakeCompleted('a');
    assert.equal(admission.refusal('a'), 'ip_unauthenticated', '1 handshake + 2 unauthenticated');
    assert.equal(admission.refusal('b'), undefined);
    admission.handshakeStarted('b');
    assert.equal(admission.refusal('c'), 'unauthenticated_share', '4 in all');
    admission.authenticated('a');
    assert.equal(admission.refusal('c'), undefined);
    assert.equal(admission.unauthenticatedSessions, 1);
    admission.unauthenticatedClosed('a');
    admission.handshakeEnded('a');
    admission.handshakeEnded('b');
    assert.equal(admission.sourceCount, 0);
    assert.equal(admission.unauthenticatedSessions, 0);
    assert.equal(admission.refusal('a'), undefined);
  });
});

describe('SourceTokenBuckets', () => {
  /** A clock the test moves, in ms. */
  function clock(): { now: () => number; advance: (ms: number) => void } {
    let nowMs = 5_000;
    return { now: () => nowMs, advance: (ms) => (nowMs += ms) };
  }
  const takes = (buckets: SourceTokenBuckets, source: string, count: number): number =>
    Array.from({ length: count }, () => buckets.take(source)).filter(Boolean).length;

  test('a burst at once, then the rate; refusals take nothing; the bucket never holds more than the burst', () => {
    const time = clock();
    const buckets = new SourceTokenBuckets({ burst: 5, ratePerS: 2, maxSources: 10 }, time.now);
    assert.equal(takes(buckets, 'a', 8), 5, 'the burst');
    assert.equal(takes(buckets, 'b', 1), 1, 'each source has its own bucket');
    time.advance(499);
    assert.equal(buckets.take('a'), false, 'under one token refilled');
    time.advance(1);
    assert.equal(takes(buckets, 'a', 3), 1, 'one token per 500 ms');
    time.advance(1_250);
    assert.equal(takes(buckets, 'a', 5), 2, '2.5 tokens: two whole ones');
    time.advance(250);
    assert.equal(buckets.take('a'), true, 'the half token kept');
    time.advance(60_000);
    assert.equal(takes(buckets, 'a', 10), 5, 'full again, never more than the burst');
  });

  test('a source is forgotten once its bucket is surely full again (burst / rate after its last use)', () => {
    const time = clock();
    const buckets = new SourceTokenBuckets({ burst: 4, ratePerS: 2, maxSources: 10 }, time.now);
    takes(buckets, 'a', 4);
    time.advance(1_000);
    takes(buckets, 'b', 1);
    assert.equal(buckets.sourceCount, 2);
    time.advance(999);
    buckets.take('c');
    assert.equal(buckets.sourceCount, 3, 'a was last used 1,999 ms ago: not yet full');
    time.advance(1);
    buckets.take('c');
    assert.equal(buckets.sourceCount, 2, 'a forgotten after 2 s (4 tokens at 2/s)');
    time.advance(2_000);
    buckets.take('c');
    assert.equal(buckets.sourceCount, 1, 'b and c forgotten, then c taken again');
  });

  test('at maxSources the least recently used source is forgotten: it gets a full burst again', () => {
    const time = clock();
    const buckets = new SourceTokenBuckets({ burst: 2, ratePerS: 1, maxSources: 3 }, time.now);
    for (const source of ['a', 'b', 'c']) takes(buckets, source, 2);
    assert.equal(buckets.take('a'), false, 'a used again: now the most recent');
    assert.equal(buckets.take('d'), true, 'a fourth source: b, the least recently used, is forgotten');
    assert.equal(buckets.sourceCount, 3);
    assert.equal(buckets.take('c'), false, 'c kept, still empty');
    assert.equal(buckets.take('a'), false, 'a kept, still empty');
    assert.equal(takes(buckets, 'b', 3), 2, 'b starts again with a full burst');
    assert.equal(buckets.sourceCount, 3);
  });
});

describe('FinalFlight (RFC 6347 §4.2.4)', () => {
  const keyExchange = rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.clientKeyExchange, messageSeq: 2, body: randomBytes(66) });
  const finished = rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.finished, messageSeq: 3, body: randomBytes(12) });
  const clear = (fragment: Buffer, type: number = RAW_CONTENT_TYPE.handshake, epoch = 0): DtlsRecord => recordOf(rawRecord(type, epoch, 7, fragment));

  test('exact copies of the clear messages, ChangeCipherSpec and the Finished pass; anything else does not', () => {
    const flight = new FinalFlight({ clearMessages: [keyExchange], finished });
    assert.equal(flight.acceptClear(clear(keyExchange)), true);
    assert.equal(flight.acceptClear(clear(Buffer.from([1]), RAW_CONTENT_TYPE.changeCipherSpec)), true);
    assert.equal(flight.acceptFinished(finished), true);
    const altered = Buffer.from(keyExchange);
    altered[20] = (altered[20] ?? 0) ^ 1;
    assert.equal(flight.acceptClear(clear(altered)), false);
    assert.equal(flight.acceptClear(clear(Buffer.concat([keyExchange, keyExchange]))), false, 'one message per record');
    assert.equal(flight.acceptClear(clear(keyExchange, RAW_CONTENT_TYPE.handshake, 1)), false, 'not epoch 0');
    assert.equal(flight.acceptClear(clear(Buffer.from([2]), RAW_CONTENT_TYPE.changeCipherSpec)), false);
    assert.equal(flight.acceptFinished(keyExchange), false);
  });

  test(`at most ${MAX_FINAL_FLIGHT_RETRANSMITTED_RECORDS} records, and none once the peer sent application data`, () => {
    const flight = new FinalFlight({ clearMessages: [keyExchange], finished });
    for (let index = 0; index < MAX_FINAL_FLIGHT_RETRANSMITTED_RECORDS; index += 1) assert.equal(flight.acceptClear(clear(keyExchange)), true);
    assert.equal(flight.acceptClear(clear(keyExchange)), false);
    const settled = new FinalFlight({ clearMessages: [keyExchange], finished });
    settled.settle();
    assert.equal(settled.acceptFinished(finished), false);
  });

  test('settle and release let go of the flight and stop the handshake, once; resend reaches the handshake only before', () => {
    const fed: Buffer[] = [];
    let aborts = 0;
    const flight = new FinalFlight({ clearMessages: [keyExchange], finished }, { feed: (record) => fed.push(record), abort: () => (aborts += 1) });
    assert.equal(flight.holdsHandshake, true);
    flight.resend(keyExchange);
    assert.equal(fed.length, 1);
    flight.settle();
    assert.equal(flight.holdsHandshake, false);
    assert.equal(aborts, 1, 'the handshake is stopped when the peer settles');
    assert.equal(flight.acceptClear(clear(keyExchange)), false);
    assert.equal(flight.acceptClear(clear(Buffer.from([1]), RAW_CONTENT_TYPE.changeCipherSpec)), false);
    flight.resend(keyExchange);
    assert.equal(fed.length, 1, 'nothing reaches a released handshake');
    flight.release();
    assert.equal(aborts, 1, 'release is idempotent');
    const closed = new FinalFlight({ clearMessages: [keyExchange], finished }, { feed: () => undefined, abort: () => (aborts += 1) });
    closed.release();
    assert.equal(aborts, 2, 'a session closed before any application data stops its handshake too');
  });
});

test('a HelloVerifyRequest larger than the datagram that asked is not made (RFC 6347 §4.2.1)', () => {
  const datagram = rawClientHello({ bare: true });
  const hello = parseClientHello(recordOf(datagram));
  assert.ok(hello);
  const fitting = helloVerifyRequestWithin(hello, randomBytes(32), datagram.length);
  assert.ok(fitting && fitting.length <= datagram.length, `${fitting?.length} B for ${datagram.length} B`);
  assert.equal(helloVerifyRequestWithin(hello, randomBytes(64), datagram.length), null, 'a longer cookie would amplify');
});

test('ThrottledLog: one line per kind and interval, with the occurrences it stands for', () => {
  const { logger, lines } = captureLogger('info');
  let now = 1_000_000;
  const log = new ThrottledLog(logger, 10_000, () => now);
  log.warn('a', { remote: 'x' }, 'refused a');
  log.warn('a', { remote: 'y' }, 'refused a');
  log.warn('b', {}, 'refused b');
  now += 9_999;
  log.warn('a', {}, 'refused a');
  now += 1;
  log.warn('a', { remote: 'z' }, 'refused a');
  assert.deepEqual(
    lines.map((line) => [line['msg'], line['occurrences'], line['remote']]),
    [
      ['refused a', 1, 'x'],
      ['refused b', 1, undefined],
      ['refused a', 3, 'z'],
    ],
  );
});

test('DtlsHubServer.listen refuses limits below 1 (BadConfig)', async () => {
  for (const limits of [{ maxHandshakesPerIp: 0 }, { maxUnauthenticatedPerIp: -1 }, { maxUnauthenticated: 1.5 }, { handshakesPerIpPerS: 0 }, { handshakeBurstPerIp: 0.5 }, { statsLogIntervalMs: -5 }]) {
    await assert.rejects(
      DtlsHubServer.listen({ host: '127.0.0.1', port: 0, ...limits }),
      (err: unknown) => err instanceof HopError && err.code === ErrorCode.BadConfig,
      JSON.stringify(limits),
    );
  }
});

test('the hub logs its counters periodically, only when one changed', async () => {
  const { logger, lines } = captureLogger('info');
  const hub = await DtlsHubServer.listen({ host: '127.0.0.1', port: 0, statsLogIntervalMs: 50, logger });
  const peer = await RawDtlsPeer.open();
  const summaries = (): Array<Record<string, number>> => lines.filter((line) => line['msg'] === 'dtls counters').map((line) => line['dtls'] as Record<string, number>);
  try {
    await peer.send(randomBytes(5), hub.address().port);
    await waitFor('a summary with the drop', () => summaries().some((summary) => summary['garbage_dropped'] === 1));
    const logged = summaries().length;
    await peer.send(rawClientHello(), hub.address().port);
    await waitFor('a summary with the cookie', () => summaries().some((summary) => summary['cookies_sent'] === 1));
    assert.equal(summaries().length, logged + 1, 'one line per change, none while nothing changes');
  } finally {
    await peer.close();
    await hub.close();
  }
});

test('a ClientHello longer than MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES is refused', () => {
  const longest = MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES - 68; // body 42 + 8 (extensions) + 2 + 12 + 4 (padding header)
  const fits = parseRecords(rawClientHello({ paddingBytes: longest }))?.[0];
  assert.ok(fits && parseClientHello(fits), 'the longest accepted');
  assert.equal(fits.fragment.length - 12, MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES);
  const over = parseRecords(rawClientHello({ paddingBytes: longest + 1 }))?.[0];
  assert.ok(over);
  assert.equal(parseClientHello(over), null);
});

test('patched werift: out-of-bounds fragments are dropped and at most maxBufferedFragments wait (encrypted records)', () => {
  const pki = makeTestPki();
  try {
    const transport = { type: 'udp', address: {}, closed: true, onData: () => undefined, send: async () => undefined, close: async () => undefined };
    const server = new DtlsServer({
      transport: transport as unknown as ConstructorParameters<typeof DtlsServer>[0]['transport'],
      cert: pki.ecdsa.certPem,
      key: pki.ecdsa.keyPem,
      maxHandshakeMessageBytes: MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES,
      maxBufferedFragments: MAX_HANDSHAKE_FRAGMENTS_PER_PEER,
    });
    const fragment = (length: number, offset: number, bytes: number): FragmentedHandshake =>
      new FragmentedHandshake(11, length, 2, offset, bytes, randomBytes(bytes));
    const buffered = (): number => (server as unknown as { bufferFragmentedHandshakes: unknown[] }).bufferFragmentedHandshakes.length;
    // werift would allocate the whole 16 MiB message when this pair completes it.
    assert.deepEqual(server.handleFragmentHandshake([fragment(0xffffff, 0, 10), fragment(0xffffff, 0xffffff - 10, 10)]), []);
    assert.deepEqual(server.handleFragmentHandshake([fragment(100, 95, 10)]), [], 'outside its message');
    assert.equal(buffered(), 0);
    for (let index = 0; index < MAX_HANDSHAKE_FRAGMENTS_PER_PEER + 10; index += 1) server.handleFragmentHandshake([fragment(4000, index * 10, 10)]);
    assert.equal(buffered(), MAX_HANDSHAKE_FRAGMENTS_PER_PEER);
    const whole = server.handleFragmentHandshake([fragment(66, 0, 66)]);
    assert.equal(whole.length, 1, 'whole messages pass');
  } finally {
    pki.cleanup();
  }
});
