/**
 * The rate of new handshakes per source: a token bucket per IPv4 address / IPv6 /64, taken
 * after the cookie is verified (RFC 6347 §4.2.1) and before werift starts the handshake,
 * where the hub's CPU goes (key generation, the certificate signature).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { RawDtlsPeer, captureLogger, rawRecord, RAW_CONTENT_TYPE, waitFor } from '@hopgate/testkit';
import { DtlsHubServer, connectDtls, DEFAULT_HANDSHAKE_BURST_PER_IP, type DtlsServerLink, type DtlsServerOptions } from '../src/index.js';
import { ContentType, parseRecords } from '../src/record.js';
import { makeTestPki, TEST_SERVER_NAME, type TestPki } from '../test-support/certs.js';
import { connectAgent, exchange, TEST_TIMEOUT_MS } from '../test-support/fixtures.js';

/** The address that loops; agents connect from 127.0.0.1. */
const LOOPING_SOURCE = '127.0.0.2';
/** An address whose few handshakes warm the JIT up before anything is measured. */
const WARM_UP_SOURCE = '127.0.0.3';
/** Handshakes the warm-up starts. */
const WARM_UP_CYCLES = 20;
/** The bucket of the loop's hub: small, so that the loop outruns it many times over on any machine. */
const LOOP_BURST = 40;
const LOOP_RATE_PER_S = 2;
/** Start-and-abort cycles of the loop: the burst, then 200 more. */
const LOOP_CYCLES = LOOP_BURST + 200;
/**
 * What a cycle the hub refuses may cost the test process, as a share of a cycle whose
 * handshake starts (measured here: about 0.2; a refusal costs the hub two cookie HMACs, a
 * started handshake adds werift's key generation and certificate signature, about 3 ms).
 */
const REFUSED_CYCLE_CPU_SHARE = 0.5;
/** Poll interval while a cycle waits for the hub, in ms: the loop goes as fast as the hub answers. */
const CYCLE_POLL_INTERVAL_MS = 1;
/** Handshake type of ServerHello (RFC 5246 §7.4). */
const SERVER_HELLO_TYPE = 2;
/** A plaintext fatal alert, handshake_failure (RFC 5246 §7.2). */
const HANDSHAKE_FAILURE_ALERT = Buffer.from([2, 40]);
/** Handshake deadline of the burst's agents, in ms: 100 handshakes at once on a loaded machine. */
const BURST_HANDSHAKE_TIMEOUT_MS = 20_000;
/** The refusal's log line. */
const RATE_REFUSAL_MSG = 'handshake refused: this address starts handshakes faster than allowed';

async function listen(pki: TestPki, options: Partial<DtlsServerOptions> = {}): Promise<DtlsHubServer> {
  return DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem: pki.ecdsa.certPem, keyPem: pki.ecdsa.keyPem, ...options });
}

/** Whether `datagram` starts with a ServerHello record: the hub's first flight of a handshake it started. */
function isServerHello(datagram: Buffer): boolean {
  const first = parseRecords(datagram)?.[0];
  return first?.type === ContentType.Handshake && first.fragment[0] === SERVER_HELLO_TYPE;
}

/**
 * The repro of the gap: the cookie exchange, then (once the hub has answered with its
 * ServerHello or refused the handshake) a plaintext alert that aborts it. True when the hub
 * started a handshake. Other peers' handshakes may be in progress meanwhile.
 */
async function startAndAbort(peer: RawDtlsPeer, hub: DtlsHubServer): Promise<boolean> {
  const hubPort = hub.address().port;
  const before = hub.stats();
  const repliesBefore = peer.replies.length;
  await peer.startHandshake(hubPort);
  const outcome = await waitFor(
    'a ServerHello or a refusal',
    () => {
      if (peer.replies.slice(repliesBefore).some(isServerHello)) return 'started';
      return hub.stats().handshakes_refused_ip_rate > before.handshakes_refused_ip_rate ? 'refused' : undefined;
    },
    undefined,
    CYCLE_POLL_INTERVAL_MS,
  );
  await peer.send(rawRecord(RAW_CONTENT_TYPE.alert, 0, peer.nextRecordSequence(), HANDSHAKE_FAILURE_ALERT), hubPort);
  if (outcome === 'started') await waitFor('the handshake aborted', () => hub.stats().handshake_failures > before.handshake_failures, undefined, CYCLE_POLL_INTERVAL_MS);
  else await waitFor('the alert dropped as stray', () => hub.stats().stray_dropped > before.stray_dropped, undefined, CYCLE_POLL_INTERVAL_MS);
  return outcome === 'started';
}

/** CPU time of this process since `since`, in ms. */
function cpuMsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1_000;
}

describe('the rate of new handshakes per source', { timeout: TEST_TIMEOUT_MS }, () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => pki.cleanup());

  test('one port that starts and aborts handshakes in a loop is held to its bucket; an agent from another address connects meanwhile', async (t) => {
    const { logger, lines } = captureLogger('info');
    const hub = await listen(pki, { handshakeBurstPerIp: LOOP_BURST, handshakesPerIpPerS: LOOP_RATE_PER_S, logger });
    const warmUp = await RawDtlsPeer.open(WARM_UP_SOURCE);
    const peer = await RawDtlsPeer.open(LOOPING_SOURCE);
    let agent: Awaited<ReturnType<typeof connectAgent>> | undefined;
    try {
      for (let cycle = 0; cycle < WARM_UP_CYCLES; cycle += 1) assert.equal(await startAndAbort(warmUp, hub), true, 'warm-up');
      const failuresBefore = hub.stats().handshake_failures;

      const loopStartedAt = performance.now();
      const burstCpu = process.cpuUsage();
      for (let cycle = 0; cycle < LOOP_BURST; cycle += 1) assert.equal(await startAndAbort(peer, hub), true, `cycle ${cycle} is within the burst`);
      const cpuPerStartedCycleMs = cpuMsSince(burstCpu) / LOOP_BURST;

      // An agent from 127.0.0.1 connects while the loop goes on.
      let sessionAtCycle: number | undefined;
      let cycle = LOOP_BURST;
      hub.once('session', (link: DtlsServerLink) => {
        sessionAtCycle = cycle;
        link.markAuthenticated();
      });
      const agentConnecting = connectAgent(pki, hub);
      agentConnecting.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile

      const limitedCpu = process.cpuUsage();
      let startedWhileLimited = 0;
      for (; cycle < LOOP_CYCLES; cycle += 1) if (await startAndAbort(peer, hub)) startedWhileLimited += 1;
      const limitedCpuMs = cpuMsSince(limitedCpu);
      const elapsedS = (performance.now() - loopStartedAt) / 1_000;

      agent = await agentConnecting;
      assert.ok(sessionAtCycle !== undefined && sessionAtCycle < LOOP_CYCLES, `the agent connected during the loop (cycle ${sessionAtCycle})`);
      await exchange(agent.client, agent.server, 1);

      // The bucket: LOOP_BURST at once, then LOOP_RATE_PER_S; each started handshake ended with the alert.
      const allowed = Math.floor(LOOP_BURST + LOOP_RATE_PER_S * elapsedS);
      const stats = hub.stats();
      const started = stats.handshake_failures - failuresBefore;
      assert.equal(started, LOOP_BURST + startedWhileLimited);
      assert.ok(started <= allowed, `${started} handshakes started in ${elapsedS.toFixed(2)} s; the bucket allows ${allowed}`);
      assert.equal(stats.handshakes_refused_ip_rate, LOOP_CYCLES - started);
      assert.equal(stats.handshakes, 1, 'the agent');
      assert.equal(stats.pending_handshakes, 0);
      assert.equal(stats.internal_errors, 0);

      // The CPU the loop costs once the burst is spent: what the handshakes the bucket allows cost
      // (measured in the burst), and refused cycles at most REFUSED_CYCLE_CPU_SHARE of that.
      const limitedCycles = LOOP_CYCLES - LOOP_BURST;
      const boundMs = (allowed - LOOP_BURST + limitedCycles * REFUSED_CYCLE_CPU_SHARE) * cpuPerStartedCycleMs;
      assert.ok(
        limitedCpuMs <= boundMs,
        `${limitedCpuMs.toFixed(0)} ms of CPU for ${limitedCycles} cycles (${startedWhileLimited} started, the agent's handshake too); bound ${boundMs.toFixed(0)} ms at ${cpuPerStartedCycleMs.toFixed(2)} ms per started cycle`,
      );

      t.diagnostic(`${started} of ${LOOP_CYCLES} handshakes started in ${elapsedS.toFixed(2)} s (bucket: ${allowed}); CPU ${cpuPerStartedCycleMs.toFixed(2)} ms per started cycle, ${(limitedCpuMs / limitedCycles).toFixed(2)} ms per cycle once limited (bound ${(boundMs / limitedCycles).toFixed(2)})`);
      const refusals = lines.filter((line) => line['msg'] === RATE_REFUSAL_MSG);
      assert.equal(refusals.length, 1, 'one line per REFUSAL_LOG_INTERVAL_MS');
      assert.equal(refusals[0]?.['source'], LOOPING_SOURCE);
      assert.equal(refusals[0]?.['handshake_burst_per_ip'], LOOP_BURST);
      assert.equal(refusals[0]?.['handshakes_per_ip_per_s'], LOOP_RATE_PER_S);
    } finally {
      agent?.client.close();
      await Promise.all([warmUp.close(), peer.close()]);
      await hub.close();
    }
  });

  test(`${DEFAULT_HANDSHAKE_BURST_PER_IP} agents behind one address (50 behind a NAT, each retrying once) connecting at once all get in`, async () => {
    // One token a second: the default burst, not the refill, lets them in.
    const hub = await listen(pki, { handshakesPerIpPerS: 1 });
    hub.on('session', (link: DtlsServerLink) => link.markAuthenticated());
    const hubPort = hub.address().port;
    const agents = await Promise.allSettled(
      Array.from({ length: DEFAULT_HANDSHAKE_BURST_PER_IP }, () =>
        connectDtls({ host: '127.0.0.1', port: hubPort, serverName: TEST_SERVER_NAME, ca: pki.caPem, handshakeTimeoutMs: BURST_HANDSHAKE_TIMEOUT_MS }),
      ),
    );
    try {
      const failed = agents.filter((outcome) => outcome.status === 'rejected');
      assert.equal(failed.length, 0, `${failed.length} failed: ${failed.map((outcome) => String((outcome as PromiseRejectedResult).reason)).slice(0, 3).join('; ')}`);
      const stats = hub.stats();
      assert.equal(stats.handshakes, DEFAULT_HANDSHAKE_BURST_PER_IP);
      assert.equal(stats.handshakes_refused_ip_rate, 0);
      assert.equal(stats.sessions, DEFAULT_HANDSHAKE_BURST_PER_IP);
      assert.equal(stats.rate_sources, 1);
    } finally {
      for (const outcome of agents) if (outcome.status === 'fulfilled') outcome.value.close();
      await hub.close();
    }
  });
});
