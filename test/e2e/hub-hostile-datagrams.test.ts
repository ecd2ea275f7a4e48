/**
 * The hub process under hostile datagrams: while a thousand garbage, ClientHello and
 * handshake-fragment datagrams arrive from 50 source ports of another address (which also
 * holds as many handshakes as it may), requests through the ingress keep succeeding, a new
 * agent still connects, the hub stays up, and its log shows the drops and refusals.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Stack,
  RawDtlsPeer,
  rawClientHello,
  rawPartialCertificate,
  rawRecord,
  RAW_CONTENT_TYPE,
  waitFor,
  type LogRecord,
  type ManagedProcess,
} from '@hopgate/testkit';
import { startOrigin, PublicClient, type Origin } from './helpers.js';

/** HOPGATE_DTLS_MAX_HANDSHAKES_PER_IP of the hub under test. */
const HANDSHAKES_PER_IP = 8;
/** HOPGATE_DTLS_STATS_LOG_INTERVAL_MS of the hub under test: the counters show up quickly. */
const STATS_LOG_INTERVAL_MS = 200;
/** Hostile sockets, all on another loopback address than the agents (127.0.0.1). */
const HOSTILE_PORTS = 50;
/** Of them, those that go through the cookie exchange (more than the hub admits from one address). */
const HANDSHAKING_PORTS = 20;
/** Datagrams of the flood. */
const FLOOD_DATAGRAMS = 1_000;
/** A request through the ingress every this many datagrams. */
const REQUEST_EVERY_DATAGRAMS = 50;
/** Partial fragments each admitted handshake gets: past the hub's cap of 32. */
const FRAGMENTS_PER_HANDSHAKE = 40;
const HOSTILE_SOURCE = '127.0.0.2';
const HOST = 'steady.hopgate.test';
const LATE_HOST = 'late.hopgate.test';
/** Per test: a hang shows up as a failure, in ms. */
const TEST_TIMEOUT_MS = 120_000;

let stack: Stack;
let origin: Origin;
let pub: PublicClient;
let hub: ManagedProcess;
let lateToken: string;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-hostile-'));
  stack = await Stack.start({
    dir,
    hubs: 1,
    hubEnv: {
      HOPGATE_DTLS_MAX_HANDSHAKES_PER_IP: String(HANDSHAKES_PER_IP),
      HOPGATE_DTLS_STATS_LOG_INTERVAL_MS: String(STATS_LOG_INTERVAL_MS),
    },
  });
  hub = stack.hubs[0]!.process;
  origin = await startOrigin('steady');
  const token = await stack.addClient('steady');
  await stack.setRoute(HOST, '/', 'steady/web');
  await stack.startAgent({ clientId: 'steady', token, services: { web: origin.address } });
  lateToken = await stack.addClient('late');
  await stack.setRoute(LATE_HOST, '/', 'late/web');
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await stack?.stop();
  await origin?.close();
});

async function assertServed(host: string, label: string): Promise<void> {
  const reply = await pub.request(host, '/hello');
  assert.equal(reply.status, 200, `${label}: ${reply.body.toString()}`);
  assert.equal(reply.body.toString(), 'hello from steady\n');
}

/** The last `dtls counters` line of the hub's log, or undefined. */
function lastCounters(): Record<string, number> | undefined {
  const lines = hub.records.filter((record: LogRecord) => record.msg === 'dtls counters');
  return lines[lines.length - 1]?.['dtls'] as Record<string, number> | undefined;
}

/** Takes `peers` through the cookie exchange; resolves once the hub's counters show them handled. */
async function handshakeFrom(peers: RawDtlsPeer[], hubPort: number, refusedBefore: number): Promise<Record<string, number>> {
  await Promise.all(peers.map((peer) => peer.startHandshake(hubPort)));
  return waitFor(`${HANDSHAKES_PER_IP} handshakes held, the rest refused`, () => {
    const last = lastCounters();
    const refused = refusedBefore + peers.length - HANDSHAKES_PER_IP;
    return last && last['pending_handshakes'] === HANDSHAKES_PER_IP && last['handshakes_refused_ip_handshakes'] === refused ? last : undefined;
  });
}

test('a thousand hostile datagrams from 50 ports: requests keep succeeding, a new agent connects, the hub logs the drops', { timeout: TEST_TIMEOUT_MS }, async () => {
  const hubPort = stack.hubs[0]!.port;
  const peers = await Promise.all(Array.from({ length: HOSTILE_PORTS }, () => RawDtlsPeer.open(HOSTILE_SOURCE)));
  const handshaking = peers.slice(0, HANDSHAKING_PORTS);
  const quiet = peers.slice(HANDSHAKING_PORTS);
  try {
    await assertServed(HOST, 'before the flood');
    // Many handshakes from one address: the hub holds HANDSHAKES_PER_IP of them.
    await handshakeFrom(handshaking, hubPort, 0);
    const admitted = handshaking.filter((peer) => peer.replies.length > 1);
    assert.equal(admitted.length, HANDSHAKES_PER_IP, 'only the admitted ones got the ServerHello flight');

    const garbage: Array<(index: number) => Buffer> = [
      (index) => randomBytes(1 + ((index * 13) % 1400)),
      (index) => Buffer.concat(Array.from({ length: 8 }, (_, record) => rawClientHello({ recordSequence: index + record }))),
      (index) => rawPartialCertificate(index, index),
      (index) => rawRecord(RAW_CONTENT_TYPE.applicationData, 1, index, randomBytes(64)),
      (index) => rawRecord(RAW_CONTENT_TYPE.handshake, 1, index, randomBytes(48)),
    ];
    let fragments = 0;
    for (let index = 0; index < FLOOD_DATAGRAMS; index += 1) {
      if (fragments < admitted.length * FRAGMENTS_PER_HANDSHAKE && index % 3 !== 0) {
        // Partial fragments to the held handshakes, in turn: each passes the hub's cap.
        await admitted[fragments % admitted.length]!.send(rawPartialCertificate(Math.floor(fragments / admitted.length), 10 + index), hubPort);
        fragments += 1;
      } else {
        await quiet[index % quiet.length]!.send(garbage[index % garbage.length]!(index), hubPort);
      }
      if (index % REQUEST_EVERY_DATAGRAMS === 0) await assertServed(HOST, `during the flood, datagram ${index}`);
    }
    await assertServed(HOST, 'after the flood');
    const flooded = await waitFor('the flooded handshakes dropped', () => {
      const last = lastCounters();
      return last && last['handshake_limits_exceeded'] === HANDSHAKES_PER_IP && last['pending_handshakes'] === 0 ? last : undefined;
    });
    assert.ok((flooded['garbage_dropped'] ?? 0) > 0, JSON.stringify(flooded));
    assert.ok((flooded['stray_dropped'] ?? 0) > 0, JSON.stringify(flooded));
    assert.ok((flooded['datagram_records_dropped'] ?? 0) > 0, JSON.stringify(flooded));

    // The address holds its handshakes again: an agent from another address still gets in.
    await handshakeFrom(handshaking, hubPort, HANDSHAKING_PORTS - HANDSHAKES_PER_IP);
    await stack.startAgent({ clientId: 'late', token: lateToken, services: { web: origin.address } });
    await assertServed(LATE_HOST, 'the agent that connected beside the held handshakes');
    await assertServed(HOST, 'the first agent still');
    // The hostile peers give up (a fatal alert each); those that timed out meanwhile are gone already.
    for (const peer of handshaking) await peer.send(rawRecord(RAW_CONTENT_TYPE.alert, 0, 5_000, Buffer.from([2, 40])), hubPort);
    const counters = await waitFor('the held handshakes ended, both agents authenticated', () => {
      const last = lastCounters();
      return last && last['pending_handshakes'] === 0 && last['sessions'] === 2 && last['unauthenticated_sessions'] === 0 ? last : undefined;
    });
    assert.equal((counters['handshake_failures'] ?? 0) + (counters['handshake_timeouts'] ?? 0), HANDSHAKES_PER_IP);
    assert.equal(counters['handshakes_refused_ip_handshakes'], 2 * (HANDSHAKING_PORTS - HANDSHAKES_PER_IP));
    assert.equal(counters['handshake_limits_exceeded'], HANDSHAKES_PER_IP);
    assert.equal(counters['internal_errors'], 0);
    assert.equal(counters['admission_sources'], 0);

    assert.equal(hub.exited, false, 'the hub is up');
    const refusals = hub.records.filter((record) => record.msg === 'handshake refused: too many handshakes from this address');
    assert.ok(refusals.length >= 1 && refusals.length <= 2, `${refusals.length} refusal lines for 24 refusals: at most one per 10 s`);
    assert.equal(refusals[0]?.['source'], HOSTILE_SOURCE);
    assert.equal(hub.records.filter((record) => record.level === 'fatal' || record.level === 'error').length, 0);
  } finally {
    await Promise.all(peers.map((peer) => peer.close()));
  }
});
