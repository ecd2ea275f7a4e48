import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { waitFor } from '@hopgate/testkit';
import { MAX_DATAGRAM_SIZE_BYTES, MAX_UDP_PAYLOAD_BYTES } from '../src/index.js';
import { ContentType, parseRecords } from '../src/record.js';
import { makeTestPki, type TestPki } from '../test-support/certs.js';
import { collect, connectPair, numbered, sendPaced, type LinkPair, TEST_TIMEOUT_MS } from '../test-support/fixtures.js';
import type { RelayHook, UdpRelay } from '../test-support/udp-relay.js';

/** A relay hook that applies `act` to each application-data datagram, counted from 0. */
function onAppRecords(act: (index: number, datagram: Buffer) => Buffer[]): RelayHook {
  let index = 0;
  return (datagram) => {
    const records = parseRecords(datagram);
    if (!records || records.length !== 1 || records[0]?.type !== ContentType.ApplicationData) return [datagram];
    const out = act(index, datagram);
    index += 1;
    return out;
  };
}

function indexOf(datagram: Buffer): number {
  return datagram.readUInt32BE(0);
}

function flipCiphertextByte(datagram: Buffer): Buffer {
  const forged = Buffer.from(datagram);
  const at = 13 + 8 + 1; // header, explicit nonce, then ciphertext
  forged[at] = (forged[at] ?? 0) ^ 0x01;
  return forged;
}

describe('DTLS record layer (through a UDP relay)', { timeout: TEST_TIMEOUT_MS }, () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => pki.cleanup());

  async function withPair(
    onRelay: (relay: UdpRelay) => void,
    body: (pair: LinkPair) => Promise<void>,
  ): Promise<void> {
    const pair = await connectPair(pki, pki.ecdsa, { relay: true, onRelay });
    try {
      await body(pair);
    } finally {
      await pair.close();
    }
  }

  test('1,000 datagrams of maxDatagramSize arrive intact both ways; each is one record in <= 1200 B', async () => {
    const sizes: number[] = [];
    const recordsPerDatagram: number[] = [];
    const measure: RelayHook = (datagram) => {
      sizes.push(datagram.length);
      const records = parseRecords(datagram);
      if (records?.[0]?.type === ContentType.ApplicationData) recordsPerDatagram.push(records.length);
      return [datagram];
    };
    await withPair(
      (relay) => {
        relay.toServer = measure;
        relay.toClient = measure;
      },
      async ({ client, server }) => {
        const make = (index: number): Buffer => {
          const datagram = randomBytes(MAX_DATAGRAM_SIZE_BYTES);
          datagram.writeUInt32BE(index, 0);
          return datagram;
        };
        const digest = (datagram: Buffer): string => createHash('sha256').update(datagram).digest('hex');
        const sentUp: string[] = [];
        const sentDown: string[] = [];
        const atHub = collect(server);
        const atAgent = collect(client);
        await sendPaced(
          (datagram) => {
            sentUp.push(digest(datagram));
            client.send(datagram);
          },
          () => atHub.length,
          1_000,
          make,
        );
        await sendPaced(
          (datagram) => {
            sentDown.push(digest(datagram));
            server.send(datagram);
          },
          () => atAgent.length,
          1_000,
          make,
        );
        await waitFor('all 2,000 datagrams', () => atHub.length === 1_000 && atAgent.length === 1_000);
        assert.deepEqual(atHub.map(digest), sentUp);
        assert.deepEqual(atAgent.map(digest), sentDown);
      },
    );
    assert.ok(sizes.length >= 2_000);
    assert.ok(Math.max(...sizes) <= MAX_UDP_PAYLOAD_BYTES, `largest UDP payload ${Math.max(...sizes)} B`);
    assert.equal(recordsPerDatagram.length, 2_000);
    assert.ok(recordsPerDatagram.every((n) => n === 1), 'one application record per datagram');
    assert.equal(sizes.filter((size) => size === MAX_UDP_PAYLOAD_BYTES).length, 2_000);
  });

  test('handshake with a fragmented RSA chain: every datagram both ways stays <= 1200 B', async () => {
    const sizes: number[] = [];
    const fragments: number[] = [];
    const measure: RelayHook = (datagram) => {
      sizes.push(datagram.length);
      for (const record of parseRecords(datagram) ?? []) {
        // Certificate (type 11) fragments in epoch 0: offset and length differ from the total.
        if (record.type === ContentType.Handshake && record.epoch === 0 && record.fragment[0] === 11) fragments.push(record.fragment.readUIntBE(6, 3));
      }
      return [datagram];
    };
    const pair = await connectPair(pki, pki.rsa, {
      relay: true,
      onRelay: (relay) => {
        relay.toServer = measure;
        relay.toClient = measure;
      },
    });
    try {
      assert.match(pair.client.peerCertificate.subject, /CN=rsa-leaf/);
    } finally {
      await pair.close();
    }
    assert.ok(fragments.length >= 2, `the Certificate message was sent in ${fragments.length} fragment(s)`);
    assert.ok(Math.max(...sizes) <= MAX_UDP_PAYLOAD_BYTES, `largest UDP payload ${Math.max(...sizes)} B`);
  });

  test('a forged record is dropped and counted in both directions; the session lives on', async () => {
    await withPair(
      (relay) => {
        relay.toClient = onAppRecords((index, datagram) => [index === 4 ? flipCiphertextByte(datagram) : datagram]);
        relay.toServer = onAppRecords((index, datagram) => [index === 4 ? flipCiphertextByte(datagram) : datagram]);
      },
      async ({ client, server, hub }) => {
        const atHub = collect(server);
        const atAgent = collect(client);
        for (let index = 0; index < 10; index += 1) {
          client.send(numbered(index));
          server.send(numbered(index));
        }
        await waitFor('nine good datagrams each way', () => atHub.length === 9 && atAgent.length === 9);
        const expected = [0, 1, 2, 3, 5, 6, 7, 8, 9];
        assert.deepEqual(atHub.map(indexOf), expected);
        assert.deepEqual(atAgent.map(indexOf), expected);
        assert.equal(client.stats().auth_failures, 1);
        assert.equal(hub.stats().auth_failures, 1);
        client.send(numbered(10));
        server.send(numbered(10));
        await waitFor('traffic after the forgery', () => atHub.length === 10 && atAgent.length === 10);
      },
    );
  });

  test('records more than 64 ahead of the last accepted one are accepted (burst loss of 100)', async () => {
    const lost = (index: number): boolean => index >= 10 && index < 110;
    let droppedUp = 0;
    let droppedDown = 0;
    await withPair(
      (relay) => {
        relay.toClient = onAppRecords((index, datagram) => (lost(index) ? (droppedDown += 1, []) : [datagram]));
        relay.toServer = onAppRecords((index, datagram) => (lost(index) ? (droppedUp += 1, []) : [datagram]));
      },
      async ({ client, server, hub }) => {
        const atHub = collect(server);
        const atAgent = collect(client);
        await sendPaced((d) => client.send(d), () => atHub.length + droppedUp, 200);
        await sendPaced((d) => server.send(d), () => atAgent.length + droppedDown, 200);
        const expected = [...Array(200).keys()].filter((index) => !lost(index));
        await waitFor('100 datagrams each way', () => atHub.length === 100 && atAgent.length === 100);
        assert.deepEqual(atHub.map(indexOf), expected);
        assert.deepEqual(atAgent.map(indexOf), expected);
        assert.equal(client.stats().replays_dropped, 0);
        assert.equal(hub.stats().replays_dropped, 0);
      },
    );
  });

  test('duplicated and too-old replayed records are dropped (RFC 6347 §4.1.2.6)', async () => {
    let firstDown: Buffer | undefined;
    let firstUp: Buffer | undefined;
    await withPair(
      (relay) => {
        relay.toClient = onAppRecords((index, datagram) => {
          if (index === 0) firstDown = datagram;
          if (index === 100 && firstDown) return [datagram, firstDown]; // 100 behind: outside the window
          return index < 20 ? [datagram, datagram] : [datagram];
        });
        relay.toServer = onAppRecords((index, datagram) => {
          if (index === 0) firstUp = datagram;
          if (index === 100 && firstUp) return [datagram, firstUp];
          return index < 20 ? [datagram, datagram] : [datagram];
        });
      },
      async ({ client, server, hub }) => {
        const atHub = collect(server);
        const atAgent = collect(client);
        await sendPaced((d) => client.send(d), () => atHub.length, 120);
        await sendPaced((d) => server.send(d), () => atAgent.length, 120);
        await waitFor('120 datagrams each way', () => atHub.length === 120 && atAgent.length === 120);
        await waitFor('21 replays dropped at the hub', () => hub.stats().replays_dropped === 21);
        await waitFor('21 replays dropped at the agent', () => client.stats().replays_dropped === 21);
        const expected = [...Array(120).keys()];
        assert.deepEqual(atHub.map(indexOf), expected);
        assert.deepEqual(atAgent.map(indexOf), expected);
      },
    );
  });

  test('no nonce reuse: epoch-1 sequence numbers and explicit nonces never repeat, Finished is record 0', async () => {
    const fromHub: Array<{ type: number; sequence: number; nonce: string }> = [];
    const fromAgent: Array<{ sequence: number; nonce: string }> = [];
    await withPair(
      (relay) => {
        relay.toClient = (datagram) => {
          for (const record of parseRecords(datagram) ?? []) {
            if (record.epoch === 1) fromHub.push({ type: record.type, sequence: record.sequence, nonce: record.fragment.subarray(0, 8).toString('hex') });
          }
          return [datagram];
        };
        relay.toServer = (datagram) => {
          for (const record of parseRecords(datagram) ?? []) {
            if (record.epoch === 1) fromAgent.push({ sequence: record.sequence, nonce: record.fragment.subarray(0, 8).toString('hex') });
          }
          return [datagram];
        };
      },
      async ({ client, server }) => {
        const atAgent = collect(client);
        const atHub = collect(server);
        await sendPaced((d) => server.send(d), () => atAgent.length, 300);
        await sendPaced((d) => client.send(d), () => atHub.length, 50);
        await waitFor('all datagrams', () => atAgent.length === 300 && atHub.length === 50);
        server.close(); // close_notify is an epoch-1 record too
        await waitFor('close_notify through the relay', () => fromHub.length === 302);
      },
    );
    assert.equal(fromHub[0]?.type, ContentType.Handshake, 'the first epoch-1 record is Finished');
    assert.equal(fromHub[0]?.sequence, 0);
    for (const records of [fromHub, fromAgent]) {
      const sequences = records.map((record) => record.sequence);
      assert.equal(new Set(sequences).size, sequences.length, 'sequence numbers repeat');
      assert.equal(new Set(records.map((record) => record.nonce)).size, records.length, 'explicit nonces repeat');
      for (const record of records) {
        const expected = Buffer.alloc(8);
        expected.writeUInt16BE(1, 0);
        expected.writeUIntBE(record.sequence, 2, 6);
        assert.equal(record.nonce, expected.toString('hex'), 'explicit nonce = epoch | sequence');
      }
    }
    assert.deepEqual(fromHub.map((record) => record.sequence), [...Array(302).keys()]);
  });
});
