/**
 * The hub against hostile peers: amplification (RFC 6347 §4.2.1), floods of garbage and
 * handshake fragments (RFC 6347 §4.2.3), epoch-0 records after the handshake (RFC 6347
 * §4.2.4), and per-source limits on handshakes and unauthenticated sessions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HopError, ErrorCode } from '@hopgate/errors';
import {
  RawDtlsPeer,
  rawClientHello,
  rawHandshakeFragment,
  rawPartialCertificate,
  rawRecord,
  cookieFromHelloVerifyRequest,
  RAW_CONTENT_TYPE,
  RAW_HANDSHAKE_TYPE,
  waitFor,
} from '@hopgate/testkit';
import {
  DtlsHubServer,
  MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES,
  MAX_HANDSHAKE_FRAGMENTS_PER_PEER,
  MAX_HANDSHAKE_RECORDS_PER_PEER,
  MAX_RECORDS_PER_DATAGRAM,
  type DtlsClientLink,
  type DtlsServerLink,
  type DtlsServerOptions,
} from '../src/index.js';
import { ContentType, parseRecords } from '../src/record.js';
import { makeTestPki, type TestPki } from '../test-support/certs.js';
import { connectAgent, connectPair, exchange, type LinkPair, TEST_TIMEOUT_MS } from '../test-support/fixtures.js';
import type { RelayHook } from '../test-support/udp-relay.js';

/** Loopback addresses other than 127.0.0.1: other source IPs for the hub on one machine. */
const OTHER_SOURCE = '127.0.0.2';
/** A handshake deadline short enough to wait out in a test, in ms. */
const SHORT_HANDSHAKE_TIMEOUT_MS = 1_500;
/** How long a refused client waits before its handshake times out, in ms. */
const REFUSED_CLIENT_TIMEOUT_MS = 1_200;

async function listen(pki: TestPki, options: Partial<DtlsServerOptions> = {}): Promise<DtlsHubServer> {
  return DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem: pki.ecdsa.certPem, keyPem: pki.ecdsa.keyPem, ...options });
}

/**
 * Sends a lone ClientHello and waits for its HelloVerifyRequest: UDP on loopback keeps the
 * order of one socket pair, so every reply to what was sent before has arrived by then.
 */
async function flushReplies(peer: RawDtlsPeer, hubPort: number): Promise<Buffer[]> {
  const before = peer.replies.length;
  await peer.send(rawClientHello(), hubPort);
  await waitFor('the marker hello answered', () => peer.replies.slice(before).some((reply) => cookieFromHelloVerifyRequest(reply)));
  return peer.replies.slice(0, -1);
}

describe('DTLS hub against hostile peers', { timeout: TEST_TIMEOUT_MS }, () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => pki.cleanup());

  test(`a datagram of ${MAX_RECORDS_PER_DATAGRAM} ClientHellos gets one HelloVerifyRequest, no larger than the datagram; more records are dropped whole`, async () => {
    const hub = await listen(pki);
    const peer = await RawDtlsPeer.open();
    try {
      const hubPort = hub.address().port;
      const many = Buffer.concat(Array.from({ length: MAX_RECORDS_PER_DATAGRAM }, (_, index) => rawClientHello({ recordSequence: index })));
      await peer.send(many, hubPort);
      const replies = await flushReplies(peer, hubPort);
      assert.equal(replies.length, 1, 'one reply to the datagram');
      assert.ok(cookieFromHelloVerifyRequest(replies[0] ?? Buffer.alloc(0)));
      assert.ok((replies[0]?.length ?? Infinity) <= many.length);
      assert.equal(hub.stats().datagram_records_dropped, MAX_RECORDS_PER_DATAGRAM - 1);

      const tooMany = Buffer.concat(Array.from({ length: MAX_RECORDS_PER_DATAGRAM + 1 }, (_, index) => rawClientHello({ recordSequence: index })));
      await peer.send(tooMany, hubPort);
      assert.equal((await flushReplies(peer, hubPort)).length, 2, 'no reply to a datagram of too many records');
      assert.equal(hub.stats().garbage_dropped, 1);
      assert.equal(hub.stats().cookies_sent, 3, 'one for the datagram of hellos, one per marker');
      assert.equal(hub.stats().pending_handshakes, 0);
    } finally {
      await peer.close();
      await hub.close();
    }
  });

  test('the smallest ClientHello and a padded one each get one HelloVerifyRequest no larger than themselves', async () => {
    const hub = await listen(pki);
    const peer = await RawDtlsPeer.open();
    try {
      const hubPort = hub.address().port;
      for (const hello of [rawClientHello({ bare: true }), rawClientHello({ paddingBytes: 1_000 })]) {
        const before = peer.replies.length;
        await peer.send(hello, hubPort);
        const reply = await waitFor('a HelloVerifyRequest', () => peer.replies[before]);
        assert.ok(cookieFromHelloVerifyRequest(reply));
        assert.ok(reply.length <= hello.length, `${reply.length} B reply to a ${hello.length} B ClientHello`);
      }
      assert.equal((await flushReplies(peer, hubPort)).length, 2);
      assert.equal(hub.stats().hello_verify_suppressed, 0);
    } finally {
      await peer.close();
      await hub.close();
    }
  });

  test(`partial fragments past ${MAX_HANDSHAKE_FRAGMENTS_PER_PEER} drop the handshake; invalid fragments are dropped before werift`, async () => {
    const hub = await listen(pki);
    const peer = await RawDtlsPeer.open();
    try {
      const hubPort = hub.address().port;
      await peer.startHandshake(hubPort);
      await waitFor('a handshake in progress', () => hub.stats().pending_handshakes === 1);

      const invalid = [
        // fragment_offset + fragment_length > length (RFC 6347 §4.2.3)
        rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.certificate, length: 100, fragmentOffset: 50, body: randomBytes(60) }),
        // a message longer than the hub takes from a client
        rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.certificate, length: MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES + 1, body: randomBytes(100) }),
        // werift would allocate the whole 16 MiB message for this fragment
        rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.certificate, length: 0xffffff, fragmentOffset: 0xffffff - 10, body: randomBytes(10) }),
        // types a client does not send in the clear here: ServerHello, Finished
        rawHandshakeFragment({ msgType: 2, body: randomBytes(40) }),
        rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.finished, body: randomBytes(12) }),
        // fragment_length longer than the record
        rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.clientKeyExchange, length: 66, fragmentLength: 66, body: randomBytes(20) }),
        // a fragment without bytes of a non-empty message
        rawHandshakeFragment({ msgType: RAW_HANDSHAKE_TYPE.certificate, length: 100, fragmentLength: 0, body: Buffer.alloc(0) }),
      ].map((fragment, index) => rawRecord(RAW_CONTENT_TYPE.handshake, 0, 10 + index, fragment));
      invalid.push(rawRecord(RAW_CONTENT_TYPE.changeCipherSpec, 0, 20, Buffer.from([2])));
      for (const datagram of invalid) await peer.send(datagram, hubPort);
      await waitFor('invalid records counted', () => hub.stats().handshake_records_invalid === invalid.length);
      assert.equal(hub.stats().pending_handshakes, 1, 'invalid records alone do not end the handshake');

      for (let index = 0; index < MAX_HANDSHAKE_FRAGMENTS_PER_PEER; index += 1) await peer.send(rawPartialCertificate(index, 100 + index), hubPort);
      await peer.send(rawPartialCertificate(MAX_HANDSHAKE_FRAGMENTS_PER_PEER, 200), hubPort);
      await waitFor('the handshake dropped', () => hub.stats().handshake_limits_exceeded === 1);
      const stats = hub.stats();
      assert.equal(stats.pending_handshakes, 0);
      assert.equal(stats.admission_sources, 0, 'nothing left for the source');
      assert.equal(stats.internal_errors, 0);

      // Further fragments find no handshake: stray, nothing allocated.
      await peer.send(rawPartialCertificate(0, 300), hubPort);
      await waitFor('a stray fragment counted', () => hub.stats().stray_dropped === 1);
      assert.equal(hub.stats().pending_handshakes, 0);
    } finally {
      await peer.close();
      await hub.close();
    }
  });

  test(`more than ${MAX_HANDSHAKE_RECORDS_PER_PEER} handshake records drop the handshake (retransmitted ClientHellos count)`, async () => {
    const hub = await listen(pki);
    const peer = await RawDtlsPeer.open();
    try {
      const hubPort = hub.address().port;
      await peer.startHandshake(hubPort);
      await waitFor('a handshake in progress', () => hub.stats().pending_handshakes === 1);
      const changeCipherSpec = (sequence: number): Buffer => rawRecord(RAW_CONTENT_TYPE.changeCipherSpec, 0, sequence, Buffer.from([1]));
      // The verified ClientHello was the first record; these fill the budget.
      for (let index = 1; index < MAX_HANDSHAKE_RECORDS_PER_PEER; index += 1) await peer.send(changeCipherSpec(10 + index), hubPort);
      await flushReplies(peer, hubPort); // a lone hello after them: answered once they were all handled
      assert.equal(hub.stats().handshake_records_invalid + hub.stats().stray_dropped, 0);
      assert.equal(hub.stats().pending_handshakes, 1, 'within the budget');
      await peer.send(changeCipherSpec(1_000), hubPort);
      await waitFor('the handshake dropped', () => hub.stats().handshake_limits_exceeded === 1);
      assert.equal(hub.stats().pending_handshakes, 0);
      assert.equal(hub.stats().admission_sources, 0);
    } finally {
      await peer.close();
      await hub.close();
    }
  });

  test('a thousand garbage, fragment and handshake datagrams from 50 source ports: the live session keeps working, nothing stays allocated', async () => {
    const pair = await connectPair(pki, pki.ecdsa);
    pair.server.markAuthenticated();
    const peers = await Promise.all(Array.from({ length: 50 }, () => RawDtlsPeer.open()));
    try {
      const hubPort = pair.hub.address().port;
      // 20 of them hold a handshake each and flood it with fragments.
      await Promise.all(peers.slice(0, 20).map((peer) => peer.startHandshake(hubPort)));
      await waitFor('20 handshakes in progress', () => pair.hub.stats().pending_handshakes === 20);
      const garbage: Array<(index: number) => Buffer> = [
        (index) => randomBytes(1 + ((index * 7) % 1400)),
        (index) => Buffer.concat(Array.from({ length: MAX_RECORDS_PER_DATAGRAM }, (_, record) => rawClientHello({ recordSequence: index + record }))),
        (index) => rawPartialCertificate(index % 40, index),
        (index) => rawRecord(RAW_CONTENT_TYPE.applicationData, 1, index, randomBytes(64)),
        (index) => rawRecord(RAW_CONTENT_TYPE.handshake, 1, index, randomBytes(48)),
        (index) => rawRecord(RAW_CONTENT_TYPE.alert, 1, index, randomBytes(26)),
      ];
      const DATAGRAMS = 1_000;
      let fragments = 0;
      for (let index = 0; index < DATAGRAMS; index += 1) {
        if (index % 5 === 0) {
          // From the 30 ports without a handshake: garbage of every kind.
          await peers[20 + ((index / 5) % 30)]!.send(garbage[(index / 5) % garbage.length]!(index), hubPort);
        } else {
          // 40 partial fragments to each of the 20 handshakes, in turn.
          await peers[fragments % 20]!.send(rawPartialCertificate(Math.floor(fragments / 20), 10 + index), hubPort);
          fragments += 1;
        }
        if (index % 100 === 0) await exchange(pair.client, pair.server, index);
      }
      await exchange(pair.client, pair.server, DATAGRAMS);
      await waitFor('the flooded handshakes dropped', () => pair.hub.stats().handshake_limits_exceeded === 20);
      const stats = pair.hub.stats();
      assert.equal(stats.pending_handshakes, 0);
      assert.equal(stats.sessions, 1);
      assert.equal(stats.admission_sources, 0);
      assert.equal(stats.internal_errors, 0);
      assert.ok(stats.garbage_dropped > 0 && stats.stray_dropped > 0 && stats.datagram_records_dropped > 0, JSON.stringify(stats));
      assert.equal(stats.handshakes, 1);
    } finally {
      await Promise.all(peers.map((peer) => peer.close()));
      await pair.close();
    }
  });

  describe('after the handshake', () => {
    /** Collects what the client sends to the hub. */
    function captureToServer(captured: Buffer[]): RelayHook {
      return (datagram) => {
        captured.push(datagram);
        return [datagram];
      };
    }

    test('epoch-0 records other than an exact retransmission of the final flight are dropped and counted; the session keeps working', async () => {
      const captured: Buffer[] = [];
      const pair: LinkPair = await connectPair(pki, pki.ecdsa, { relay: true, onRelay: (relay) => (relay.toServer = captureToServer(captured)) });
      try {
        const relay = pair.relay;
        assert.ok(relay);
        const records = captured.flatMap((datagram) => parseRecords(datagram) ?? []);
        const keyExchange = records.find((record) => record.type === ContentType.Handshake && record.epoch === 0 && record.fragment[0] === RAW_HANDSHAKE_TYPE.clientKeyExchange);
        const changeCipherSpec = records.find((record) => record.type === ContentType.ChangeCipherSpec);
        assert.ok(keyExchange && changeCipherSpec, 'the final flight seen');

        // Exact copies in new records: handed on, not counted.
        relay.sendToServer(rawRecord(RAW_CONTENT_TYPE.handshake, 0, 50, Buffer.from(keyExchange.fragment)));
        relay.sendToServer(rawRecord(RAW_CONTENT_TYPE.changeCipherSpec, 0, 51, Buffer.from(changeCipherSpec.fragment)));
        await waitFor('both copies handed on', () => pair.hub.stats().final_flight_retransmissions === 2);
        await exchange(pair.client, pair.server, 1);
        assert.equal(pair.hub.stats().epoch0_dropped, 0);

        const altered = Buffer.from(keyExchange.fragment);
        altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 0xff;
        const others = [
          rawRecord(RAW_CONTENT_TYPE.handshake, 0, 60, altered),
          rawRecord(RAW_CONTENT_TYPE.changeCipherSpec, 0, 61, Buffer.from([2])),
          rawPartialCertificate(0, 62),
          rawRecord(RAW_CONTENT_TYPE.handshake, 0, 63, rawHandshakeFragment({ msgType: 0, body: Buffer.alloc(0) })), // HelloRequest
          rawRecord(RAW_CONTENT_TYPE.handshake, 0, 64, randomBytes(200)),
          // An exact copy too, but the peer has sent application data: it has our Finished.
          rawRecord(RAW_CONTENT_TYPE.handshake, 0, 65, Buffer.from(keyExchange.fragment)),
        ];
        for (const datagram of others) relay.sendToServer(datagram);
        await waitFor('every other epoch-0 record dropped', () => pair.hub.stats().epoch0_dropped === others.length);
        await exchange(pair.client, pair.server, 2);
        const stats = pair.hub.stats();
        assert.equal(stats.sessions, 1);
        assert.equal(stats.internal_errors, 0);
        assert.equal(stats.handshake_failures, 0);
      } finally {
        await pair.close();
      }
    });

    test("the hub's final flight lost once: the client's retransmitted flight gets it again (RFC 6347 §4.2.4)", async () => {
      let dropped = 0;
      // The hub's final flight: ChangeCipherSpec and the encrypted Finished, one datagram each.
      const dropFinalFlightOnce: RelayHook = (datagram) => {
        const record = parseRecords(datagram)?.[0];
        const final = record && (record.type === ContentType.ChangeCipherSpec || (record.type === ContentType.Handshake && record.epoch === 1));
        if (final && dropped < 2) {
          dropped += 1;
          return [];
        }
        return [datagram];
      };
      const pair = await connectPair(pki, pki.ecdsa, { relay: true, onRelay: (relay) => (relay.toClient = dropFinalFlightOnce) });
      try {
        assert.equal(dropped, 2, 'the first copy of the final flight was lost');
        await exchange(pair.client, pair.server, 1);
        const stats = pair.hub.stats();
        assert.equal(stats.epoch0_dropped, 0, 'the retransmission was handed on');
        assert.ok(stats.final_flight_retransmissions >= 3, `${stats.final_flight_retransmissions} records of the retransmitted flight (its Finished among them)`);
        assert.equal(stats.handshakes, 1);
      } finally {
        await pair.close();
      }
    });
  });

  describe('per-source limits', () => {
    test('one address with many ports gets maxHandshakesPerIp handshakes; an agent from another address connects and authenticates', async () => {
      const hub = await listen(pki, { maxHandshakesPerIp: 3, maxUnauthenticatedPerIp: 4, handshakeTimeoutMs: SHORT_HANDSHAKE_TIMEOUT_MS });
      const peers = await Promise.all(Array.from({ length: 6 }, () => RawDtlsPeer.open(OTHER_SOURCE)));
      try {
        const hubPort = hub.address().port;
        for (const peer of peers) await peer.startHandshake(hubPort);
        await waitFor('three admitted, three refused', () => hub.stats().pending_handshakes === 3 && hub.stats().handshakes_refused_ip_handshakes === 3);

        const agent = await connectAgent(pki, hub);
        try {
          assert.equal(hub.stats().unauthenticated_sessions, 1);
          assert.equal(hub.stats().admission_sources, 2);
          agent.server.markAuthenticated();
          agent.server.markAuthenticated();
          assert.equal(hub.stats().unauthenticated_sessions, 0);
          await exchange(agent.client, agent.server, 1);
          await waitFor('the held handshakes time out', () => hub.stats().pending_handshakes === 0, SHORT_HANDSHAKE_TIMEOUT_MS * 3);
          assert.equal(hub.stats().admission_sources, 0);
          assert.equal(hub.stats().handshake_timeouts, 3);
        } finally {
          agent.client.close();
        }
      } finally {
        await Promise.all(peers.map((peer) => peer.close()));
        await hub.close();
      }
    });

    test('sessions that never authenticate use up their address budget; markAuthenticated and close free it', async () => {
      const hub = await listen(pki, { maxUnauthenticatedPerIp: 2 });
      const agents: Array<{ client: DtlsClientLink; server: DtlsServerLink }> = [];
      try {
        agents.push(await connectAgent(pki, hub), await connectAgent(pki, hub));
        await assert.rejects(
          connectAgent(pki, hub, REFUSED_CLIENT_TIMEOUT_MS),
          (err: unknown) => err instanceof HopError && err.code === ErrorCode.Timeout,
        );
        assert.ok(hub.stats().handshakes_refused_ip_unauthenticated >= 1);
        assert.equal(hub.stats().unauthenticated_sessions, 2);

        agents[0]?.server.markAuthenticated();
        agents.push(await connectAgent(pki, hub));
        assert.equal(hub.stats().unauthenticated_sessions, 2);

        // An unauthenticated session that closes frees its place too.
        const leaving = agents[1];
        assert.ok(leaving);
        leaving.server.close();
        assert.equal(hub.stats().unauthenticated_sessions, 1);
        agents.push(await connectAgent(pki, hub));
        assert.equal(hub.stats().sessions, 3);
        await exchange(agents[0]!.client, agents[0]!.server, 1);
      } finally {
        for (const agent of agents) agent.client.close();
        await hub.close();
      }
    });

    test('handshakes from many addresses fill only the unauthenticated share: the authenticated agent keeps working', async () => {
      const hub = await listen(pki, { maxSessions: 8, maxUnauthenticated: 3, maxHandshakesPerIp: 8, handshakeTimeoutMs: SHORT_HANDSHAKE_TIMEOUT_MS });
      const peers = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'].flatMap((address) => [RawDtlsPeer.open(address), RawDtlsPeer.open(address)]));
      const agent = await connectAgent(pki, hub);
      agent.server.markAuthenticated();
      try {
        const hubPort = hub.address().port;
        for (const peer of peers) await peer.startHandshake(hubPort);
        await waitFor('three admitted, five refused', () => hub.stats().pending_handshakes === 3 && hub.stats().handshakes_refused_unauthenticated_share === 5);
        assert.equal(hub.stats().sessions_refused, 0, 'maxSessions itself was never reached');
        await exchange(agent.client, agent.server, 1);

        // A new agent waits for the share like anyone (the documented limit): once the held handshakes time out it gets in.
        await waitFor('the held handshakes time out', () => hub.stats().pending_handshakes === 0, SHORT_HANDSHAKE_TIMEOUT_MS * 3);
        const second = await connectAgent(pki, hub);
        second.client.close();
      } finally {
        agent.client.close();
        await Promise.all(peers.map((peer) => peer.close()));
        await hub.close();
      }
    });
  });
});
