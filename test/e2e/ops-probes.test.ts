/**
 * /healthz and /readyz of every service (ingress, hub, cert-manager) as real processes:
 * ready once started, 503 while Redis is gone and ready again after it is back, 503
 * "draining" from SIGTERM on (the ingress still accepting during HOPGATE_DRAIN_DELAY_MS),
 * exit 0; a service whose Redis does not answer at start is alive but not ready.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ManagedProcess, Stack, freeTcpPort, serviceMain, startRedis, tcpOpen, waitFor } from '@hopgate/testkit';
import { exitCodeOf, opsPortOf, probe, waitProbe } from './ops-helpers.js';

/** The drain delay of the processes drained here, in ms: long enough to probe "draining" and connect meanwhile. */
const DRAIN_DELAY_MS = 1_500;

let stack: Stack;
let certManager: ManagedProcess;
let agent: ManagedProcess;
let agentOpsPort = 0;
const ports: Record<'ingress' | 'hub' | 'certManager', number> = { ingress: 0, hub: 0, certManager: 0 };

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-ops-probes-'));
  stack = await Stack.start({ dir, hubs: 1, ingressEnv: { HOPGATE_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS) }, hubEnv: { HOPGATE_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS) } });
  // No ACME server is needed to start: the account key is made locally, nothing is wanted yet.
  certManager = await stack.startCertManager({ HOPGATE_ACME_DIRECTORY: 'https://127.0.0.1:9/dir', HOPGATE_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS) });
  ports.ingress = await opsPortOf(stack.ingress);
  ports.hub = await opsPortOf(stack.hubs[0]!.process);
  ports.certManager = await opsPortOf(certManager);
  const token = await stack.addClient('probed');
  agent = await stack.startAgent({ clientId: 'probed', token, services: { web: '127.0.0.1:9' }, extra: { ops_listen: '127.0.0.1:0' } });
  agentOpsPort = await opsPortOf(agent);
});

after(async () => {
  await stack?.stop();
});

test('every service: healthz 200, readyz 200 once started, 404 for anything else on the ops port', async () => {
  for (const [name, port] of Object.entries(ports)) {
    const health = await probe(port, '/healthz');
    assert.equal(health.status, 200, `${name} healthz`);
    assert.equal(health.body['status'], 'ok');
    const ready = await waitProbe(port, '/readyz', 200);
    assert.deepEqual(ready.body, { ready: true }, `${name} readyz`);
    assert.equal((await probe(port, '/')).status, 404, `${name} /`);
    assert.equal((await probe(port, '/readyz/extra')).status, 404, `${name} /readyz/extra`);
  }
});

test('agent with ops_listen: readyz 200 while its session is online', async () => {
  assert.equal((await probe(agentOpsPort, '/healthz')).status, 200);
  assert.deepEqual((await waitProbe(agentOpsPort, '/readyz', 200)).body, { ready: true });
  assert.equal((await probe(agentOpsPort, '/nope')).status, 404);
});

test('Redis stopped: ingress and cert-manager readyz 503 (redis disconnected), healthz still 200; ready again once Redis is back', async () => {
  const redisPort = stack.redis.port;
  await stack.redis.stop();
  try {
    for (const port of [ports.ingress, ports.certManager]) {
      const answer = await waitProbe(port, '/readyz', 503, 'redis disconnected');
      assert.equal(answer.body['ready'], false);
      assert.equal((await probe(port, '/healthz')).status, 200);
    }
  } finally {
    stack.redis = await startRedis({ port: redisPort, notifyKeyspaceEvents: 'Kgh', logFile: path.join(stack.logDir, 'redis-server-2.log') });
  }
  for (const port of [ports.ingress, ports.certManager]) await waitProbe(port, '/readyz', 200);
});

test('NATS killed: ingress and cert-manager readyz 503 (nats disconnected); ready again once NATS is back', async () => {
  await stack.killNats();
  try {
    for (const port of [ports.ingress, ports.certManager]) {
      await waitProbe(port, '/readyz', 503, 'nats disconnected');
      assert.equal((await probe(port, '/healthz')).status, 200);
    }
  } finally {
    await stack.restartNats();
  }
  for (const port of [ports.ingress, ports.certManager]) await waitProbe(port, '/readyz', 200);
});

test('a service whose Redis accepts but never answers: alive (healthz 200), not ready (waiting for redis)', async () => {
  // A TCP listener that accepts and stays silent: ioredis waits for its connect timeout meanwhile.
  const silent = net.createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  const silentPort = (silent.address() as net.AddressInfo).port;
  const proc = new ManagedProcess('https-ingress-silent-redis', process.execPath, [serviceMain('https-ingress')], {
    ...stack.commonEnv(),
    HOPGATE_REDIS_URL: `redis://127.0.0.1:${silentPort}`,
    HOPGATE_HTTPS_LISTEN: 'off',
    HOPGATE_HTTP_LISTEN: `127.0.0.1:${await freeTcpPort()}`,
    HOPGATE_INGRESS_ID: 'ingress-silent-redis',
  }, path.join(stack.logDir, 'https-ingress-silent-redis.log'));
  try {
    const port = await opsPortOf(proc);
    assert.equal((await probe(port, '/healthz')).status, 200);
    assert.deepEqual(await probe(port, '/readyz'), { status: 503, body: { ready: false, reason: 'waiting for redis' } });
  } finally {
    await proc.kill();
    silent.close();
  }
});

test('SIGTERM: readyz 503 draining at once, the ingress still accepts during the drain delay, every service exits 0', async () => {
  const procs = { ingress: stack.ingress, hub: stack.hubs[0]!.process, certManager };
  const exits = Object.entries(procs).map(([name, proc]) => exitCodeOf(proc).then((code) => [name, code] as const));
  for (const proc of Object.values(procs)) proc.child.kill('SIGTERM');
  for (const [name, port] of Object.entries(ports)) {
    const answer = await waitProbe(port, '/readyz', 503, 'draining', 1_000);
    assert.equal(answer.body['ready'], false, name);
    assert.equal((await probe(port, '/healthz')).status, 200, `${name} alive while draining`);
  }
  // Kubernetes takes the pod out of its endpoints meanwhile: connections still arriving are taken.
  assert.equal(await tcpOpen(stack.httpsPort), true, 'HTTPS port open during the drain delay');
  for (const [name, code] of await Promise.all(exits)) assert.equal(code, 0, `${name} exit code`);
  assert.equal(await tcpOpen(stack.httpsPort), false, 'HTTPS port closed after exit');
  for (const proc of Object.values(procs)) {
    assert.ok(proc.records.some((r) => String(r.msg).endsWith(' draining') && r['drain_delay_ms'] === DRAIN_DELAY_MS), `${proc.name} logged draining`);
  }
  await waitFor('ingress drain logged', () => stack.ingress.records.some((r) => r.msg === 'drained: every connection closed'));
});

test('agent with ops_listen: readyz 503 once its hub is gone', async () => {
  // The hub exited in the test above; the agent notices within its idle timeout (3 s here).
  const answer = await waitProbe(agentOpsPort, '/readyz', 503);
  assert.match(String(answer.body['reason']), /^session (connecting|waiting)$/);
  assert.equal((await probe(agentOpsPort, '/healthz')).status, 200);
});
