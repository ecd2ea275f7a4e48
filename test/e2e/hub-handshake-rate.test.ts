/**
 * The hub process holds one address to HOPGATE_DTLS_HANDSHAKE_BURST_PER_IP handshakes at once
 * and HOPGATE_DTLS_HANDSHAKES_PER_IP_PER_S after that: a port that starts and aborts
 * handshakes in a loop is refused (counted and logged), and an agent from another address
 * still connects and serves.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack, RawDtlsPeer, rawRecord, RAW_CONTENT_TYPE, waitFor, type LogRecord, type ManagedProcess } from '@hopgate/testkit';
import { startOrigin, PublicClient, type Origin } from './helpers.js';

/** HOPGATE_DTLS_HANDSHAKE_BURST_PER_IP of the hub under test. */
const BURST = 4;
/** HOPGATE_DTLS_HANDSHAKES_PER_IP_PER_S of the hub under test. */
const RATE_PER_S = 1;
/** Start-and-abort cycles from one port: three times the burst. */
const CYCLES = 3 * BURST;
/** HOPGATE_DTLS_STATS_LOG_INTERVAL_MS of the hub under test: the counters show up quickly. */
const STATS_LOG_INTERVAL_MS = 200;
const LOOPING_SOURCE = '127.0.0.2';
const HOST = 'steady.hopgate.test';
/** A plaintext fatal alert, handshake_failure (RFC 5246 §7.2). */
const HANDSHAKE_FAILURE_ALERT = Buffer.from([2, 40]);
/** Per test: a hang shows up as a failure, in ms. */
const TEST_TIMEOUT_MS = 120_000;

let stack: Stack;
let origin: Origin;
let pub: PublicClient;
let hub: ManagedProcess;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-handshake-rate-'));
  stack = await Stack.start({
    dir,
    hubs: 1,
    hubEnv: {
      HOPGATE_DTLS_HANDSHAKE_BURST_PER_IP: String(BURST),
      HOPGATE_DTLS_HANDSHAKES_PER_IP_PER_S: String(RATE_PER_S),
      HOPGATE_DTLS_STATS_LOG_INTERVAL_MS: String(STATS_LOG_INTERVAL_MS),
    },
  });
  hub = stack.hubs[0]!.process;
  origin = await startOrigin('steady');
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await stack?.stop();
  await origin?.close();
});

/** The last `dtls counters` line of the hub's log, or undefined. */
function lastCounters(): Record<string, number> | undefined {
  const lines = hub.records.filter((record: LogRecord) => record.msg === 'dtls counters');
  return lines[lines.length - 1]?.['dtls'] as Record<string, number> | undefined;
}

test('one port starting and aborting handshakes gets the burst, then the rate; an agent from another address connects', { timeout: TEST_TIMEOUT_MS }, async () => {
  const listening = hub.records.find((record) => record.msg === 'dtls hub listening');
  assert.equal(listening?.['handshake_burst_per_ip'], BURST);
  assert.equal(listening?.['handshakes_per_ip_per_s'], RATE_PER_S);

  const hubPort = stack.hubs[0]!.port;
  const peer = await RawDtlsPeer.open(LOOPING_SOURCE);
  try {
    const startedAt = performance.now();
    for (let cycle = 0; cycle < CYCLES; cycle += 1) {
      // The cookie exchange, then an alert: it aborts the handshake if the hub started one.
      await peer.startHandshake(hubPort);
      await peer.send(rawRecord(RAW_CONTENT_TYPE.alert, 0, peer.nextRecordSequence(), HANDSHAKE_FAILURE_ALERT), hubPort);
    }
    const counters = await waitFor('every cycle counted as aborted or refused', () => {
      const last = lastCounters();
      return last && (last['handshake_failures'] ?? 0) + (last['handshakes_refused_ip_rate'] ?? 0) === CYCLES && last['pending_handshakes'] === 0 ? last : undefined;
    });
    const elapsedS = (performance.now() - startedAt) / 1_000;
    const started = counters['handshake_failures'] ?? 0;
    assert.ok(started >= BURST, `${started} started: the burst at least`);
    assert.ok(started <= Math.floor(BURST + RATE_PER_S * elapsedS), `${started} handshakes started in ${elapsedS.toFixed(2)} s`);
    const refusals = hub.records.filter((record) => record.msg === 'handshake refused: this address starts handshakes faster than allowed');
    assert.ok(refusals.length >= 1, 'the refusal logged');
    assert.equal(refusals[0]?.['source'], LOOPING_SOURCE);

    const token = await stack.addClient('steady');
    await stack.setRoute(HOST, '/', 'steady/web');
    await stack.startAgent({ clientId: 'steady', token, services: { web: origin.address } });
    const reply = await pub.request(HOST, '/hello');
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(hub.exited, false, 'the hub is up');
  } finally {
    await peer.close();
  }
});
