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

test('a thousand hostile datagrams from 50 ports: requests keep succeeding, a new agent connects, the hub logs the drops', { timeout: TEST_TIMEOUT_MS }, async () => {
  const hubPort = stack.hubs[0]!.port;
  const peers = await Promise.all(Array.from({ length: HOSTILE_PORTS }, () => RawDtlsPeer.open(HOSTILE_SOURCE)));
  try {
    await assertServed(HOST, 'before the flood');
    // Many handshakes from one address: the hub admits HANDSHAKES_PER_IP of them.
    await Promise.all(peers.slice(0, HANDSHAKING_PORTS).map((peer) => peer.startHandshake(hubPort)));
    const admitted = await waitFor('the admitted handshakes answered (ServerHello flight)', () => {
      const answered = peers.slice(0, HANDSHAKING_PORTS).filter((peer) => peer.replies.length > 1);
      return answered.length === HANDSHAKES_PER_IP ? answered : undefined;
    });

    // While those handshakes are held: an agent from another address still gets in.
    await stack.startAgent({ clientId: 'late', token: lateToken, services: { web: origin.address } });
    await assertServed(LATE_HOST, 'the agent that connected during the flood');

    const garbage: Array<(index: number) => Buffer> = [
      (index) => randomBytes(1 + ((index * 13) % 1400)),
      (index) => Buffer.concat(Array.from({ length: 8 }, (_, record) => rawClientHello({ recordSequence: index + record }))),
      (index) => rawPartialCertificate(index, index),
      (index) => rawRecord(RAW_CONTENT_TYPE.applicationData, 1, index, randomBytes(64)),
      (index) => rawRecord(RAW_CONTENT_TYPE.handshake, 1, index, randomBytes(48)),
    ];
    const quiet = peers.slice(HANDSHAKING_PORTS);
    let fragments = 0;
    for (let index = 0; index < FLOOD_DATAGRAMS; index += 1) {
      if (fragments < admitted.length * FRAGMENTS_PER_HANDSHAKE && index % 3 !== 0) {
        await admitted[fragments % admitted.length]!.send(rawPartialCertificate(Math.floor(fragments / admitted.length), 10 + index), hubPort);
        fragments += 1;
      } else {
        await quiet[index % quiet.length]!.send(garbage[index % garbage.length]!(index), hubPort);
      }
      if (index % REQUEST_EVERY_DATAGRAMS === 0) await assertServed(index % 2 === 0 ? HOST : LATE_HOST, `during the flood, datagram ${index}`);
    }
    await assertServed(HOST, 'after the flood');
    assert.equal(hub.exited, false, 'the hub is up');

    const counters = await waitFor('the hub to log the drops', () => {
      const last = lastCounters();
      return last && last['handshake_limits_exceeded'] === HANDSHAKES_PER_IP ? last : undefined;
    });
    assert.equal(counters['handshakes_refused_ip_handshakes'], HANDSHAKING_PORTS - HANDSHAKES_PER_IP);
    assert.ok((counters['garbage_dropped'] ?? 0) > 0, JSON.stringify(counters));
    assert.ok((counters['stray_dropped'] ?? 0) > 0, JSON.stringify(counters));
    assert.ok((counters['datagram_records_dropped'] ?? 0) > 0, JSON.stringify(counters));
    assert.equal(counters['internal_errors'], 0);
    assert.equal(counters['pending_handshakes'], 0, 'every held handshake was dropped');
    assert.equal(counters['unauthenticated_sessions'], 0, 'both agents authenticated');
    assert.equal(counters['sessions'], 2);
    const refusals = hub.records.filter((record) => record.msg === 'handshake refused: too many handshakes from this address');
    assert.equal(refusals.length, 1, 'refusals are logged once per interval');
    assert.equal(refusals[0]?.['source'], HOSTILE_SOURCE);
    assert.equal(hub.records.filter((record) => record.level === 'fatal').length, 0);
  } finally {
    await Promise.all(peers.map((peer) => peer.close()));
  }
});
