/**
 * The handshake over a link that loses, reorders and duplicates datagrams (RFC 6347
 * §4.2.3 reassembly, §4.2.4 retransmission). The hub's RSA chain is sent as a fragmented
 * Certificate message, so the agent has to reassemble fragments that arrive out of order,
 * twice, or only after a retransmission.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@hopgate/testkit';
import { ContentType, parseRecords } from '../src/record.js';
import { makeTestPki, type TestPki } from '../test-support/certs.js';
import { collect, connectPair, type LinkPair, TEST_TIMEOUT_MS } from '../test-support/fixtures.js';
import type { RelayHook } from '../test-support/udp-relay.js';

/** Handshake message type of a Certificate (RFC 5246 §7.4). */
const HANDSHAKE_CERTIFICATE = 11;
/** Handshake message type of a ServerHelloDone (RFC 5246 §7.4). */
const HANDSHAKE_SERVER_HELLO_DONE = 14;

/** The handshake message type of an epoch-0 handshake datagram, or -1. */
function handshakeType(datagram: Buffer): number {
  const record = parseRecords(datagram)?.[0];
  if (!record || record.type !== ContentType.Handshake || record.epoch !== 0) return -1;
  return record.fragment[0] ?? -1;
}

async function assertDatagramsFlow(pair: LinkPair): Promise<void> {
  const atHub = collect(pair.server);
  const atAgent = collect(pair.client);
  pair.client.send(Buffer.from('from agent'));
  pair.server.send(Buffer.from('from hub'));
  await waitFor('a datagram each way', () => atHub.length === 1 && atAgent.length === 1);
}

describe('DTLS handshake under loss, reordering and duplication', { timeout: TEST_TIMEOUT_MS }, () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => pki.cleanup());

  test('the Certificate fragments arrive in reverse order', async () => {
    let held: Buffer[] = [];
    let reordered = 0;
    const reverseFragments: RelayHook = (datagram) => {
      const type = handshakeType(datagram);
      if (reordered === 0 && type === HANDSHAKE_CERTIFICATE) {
        held.push(datagram);
        return [];
      }
      if (held.length > 0) {
        const out = [...held.reverse(), datagram];
        reordered = held.length;
        held = [];
        return out;
      }
      return [datagram];
    };
    const pair = await connectPair(pki, pki.rsa, { relay: true, onRelay: (relay) => (relay.toClient = reverseFragments) });
    try {
      assert.ok(reordered >= 2, `${reordered} Certificate fragments reordered`);
      await assertDatagramsFlow(pair);
    } finally {
      await pair.close();
    }
  });

  test('the first Certificate fragment is lost once: the retransmitted flight completes the message', async () => {
    let dropped = 0;
    const dropFirstFragment: RelayHook = (datagram) => {
      if (dropped === 0 && handshakeType(datagram) === HANDSHAKE_CERTIFICATE) {
        dropped++;
        return [];
      }
      return [datagram];
    };
    const pair = await connectPair(pki, pki.rsa, { relay: true, onRelay: (relay) => (relay.toClient = dropFirstFragment) });
    try {
      assert.equal(dropped, 1);
      await assertDatagramsFlow(pair);
    } finally {
      await pair.close();
    }
  });

  test('the whole server flight arrives twice, the second copy before the first, ServerHelloDone first', async () => {
    let held: Buffer[] = [];
    let flushed = false;
    const shuffleFlight: RelayHook = (datagram) => {
      const type = handshakeType(datagram);
      // ServerHello (2), Certificate (11), ServerKeyExchange (12) wait for ServerHelloDone.
      if (!flushed && (type === 2 || type === HANDSHAKE_CERTIFICATE || type === 12)) {
        held.push(datagram);
        return [];
      }
      if (!flushed && type === HANDSHAKE_SERVER_HELLO_DONE) {
        flushed = true;
        const flight = held;
        held = [];
        return [datagram, ...[...flight].reverse(), ...flight, datagram];
      }
      return [datagram];
    };
    const pair = await connectPair(pki, pki.rsa, { relay: true, onRelay: (relay) => (relay.toClient = shuffleFlight) });
    try {
      assert.ok(flushed);
      await assertDatagramsFlow(pair);
    } finally {
      await pair.close();
    }
  });
});
