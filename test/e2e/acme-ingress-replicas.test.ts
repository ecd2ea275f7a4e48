/**
 * Two https-ingress replicas behind a round-robin TCP balancer, with real pebble validation:
 * pebble's HTTP-01 probes land on either replica, each answers from Redis challenges it never
 * saw being created, and both then serve the issued certificates by SNI (no file certificate).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { ManagedProcess, Stack, freeTcpPort, serviceMain, startPebble, tcpOpen, waitFor, type RunningPebble } from '@hopgate/testkit';
import type { CertRecord } from '@hopgate/certs';
import { assertIssuedFor, certManagerEnv, waitValid } from './acme-helpers.js';
import { handshake, type HandshakeResult } from './cert-helpers.js';

/** Time for one certificate to be ordered and validated by pebble, in ms. */
const ISSUE_TIMEOUT_MS = 20_000;
/** Time the second ingress gets to open its HTTPS port, in ms. */
const INGRESS_START_TIMEOUT_MS = 15_000;
/** Time for a replica to serve a certificate stored in Redis (broadcast, else the 1 s re-read), in ms. */
const SERVE_TIMEOUT_MS = 10_000;
/** Interval between two probing TLS handshakes, in ms. */
const HANDSHAKE_POLL_INTERVAL_MS = 200;
const NAMES = ['one.lb.test', 'two.lb.test', 'three.lb.test'];
const ANSWERED = 'acme http-01: challenge answered';

/** A TCP balancer: each new connection goes to the next port in turn (round robin). */
class RoundRobinProxy {
  readonly perTarget: number[];
  private next = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly targets: number[]) {
    this.perTarget = targets.map(() => 0);
    this.server = net.createServer((client) => {
      const index = this.next;
      this.next = (this.next + 1) % this.targets.length;
      this.perTarget[index]! += 1;
      const upstream = net.connect(this.targets[index]!, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve) => this.server.listen(port, '127.0.0.1', () => resolve()));
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const keys = new RedisKeys();
let stack: Stack;
let pebble: RunningPebble;
let redis: Redis;
let proxy: RoundRobinProxy;
let second: ManagedProcess;
let secondHttpsPort: number;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-acme-lb-'));
  const rereadEnv = { HOPGATE_CERT_REREAD_INTERVAL_MS: '1000' };
  stack = await Stack.start({ dir, hubs: 0, ingressFileCert: false, ingressEnv: rereadEnv });
  // The second replica: same Redis and NATS, its own ports and id, no file certificate (as Stack.startIngress, minus the file).
  secondHttpsPort = await freeTcpPort();
  const secondHttpPort = await freeTcpPort();
  second = new ManagedProcess('https-ingress-2', process.execPath, [serviceMain('https-ingress')], {
    ...stack.commonEnv(),
    HOPGATE_HTTPS_LISTEN: `127.0.0.1:${secondHttpsPort}`,
    HOPGATE_HTTP_LISTEN: `127.0.0.1:${secondHttpPort}`,
    HOPGATE_INGRESS_ID: 'ingress-2',
    ...rereadEnv,
  }, path.join(stack.logDir, 'https-ingress-2.log'));
  await waitFor('https-ingress-2 listening', async () => {
    if (second.exited) throw new Error(`https-ingress-2 exited: ${second.stderr.slice(-500)}`);
    return tcpOpen(secondHttpsPort);
  }, INGRESS_START_TIMEOUT_MS);
  proxy = new RoundRobinProxy([stack.httpPort, secondHttpPort]);
  const balancerPort = await freeTcpPort();
  await proxy.listen(balancerPort);
  pebble = await startPebble({ dir: path.join(dir, 'pebble'), httpPort: balancerPort });
  redis = new Redis(stack.redis.url);
  await stack.startCertManager(certManagerEnv(pebble));
});

after(async () => {
  redis?.disconnect();
  await second?.stop(2_000);
  await stack?.stop();
  await pebble?.stop();
  await proxy?.close();
});

test('HTTP-01 probes spread over two ingress replicas: both answer from Redis, both serve every issued certificate by SNI', async () => {
  const root = await pebble.rootPem();
  // Operators add routes with redis-cli HSET; the cert-manager orders each host.
  for (const name of NAMES) await redis.hset(keys.route(name), '/', 'laptop/web');
  const records: CertRecord[] = [];
  for (const name of NAMES) {
    const record = await waitValid(redis, name, ISSUE_TIMEOUT_MS);
    assertIssuedFor(record, name, root);
    records.push(record);
  }
  // pebble reached both replicas through the balancer, and each answered at least one validation.
  assert.ok(proxy.perTarget.every((n) => n >= 1), `connections per replica: ${proxy.perTarget.join(', ')}`);
  for (const replica of [stack.ingress, second]) {
    await replica.waitForLog('http-01 answered', (r) => r.msg === ANSWERED);
    assert.equal(replica.countLogs((r) => r.msg === 'acme http-01: no such challenge'), 0, `${replica.name} found every challenge`);
  }
  // pebble fetches each challenge from several perspectives (its log: `Attempting to validate w/ HTTP: http://<name>:...`):
  // every fetch, on whichever replica it landed, was answered.
  // (pebble's log and the replicas' logs arrive through pipes: wait until they agree).
  const attemptsOf = (name: string): number => fs.readFileSync(pebble.logFile, 'utf8').split('\n').filter((line) => line.includes(`Attempting to validate w/ HTTP: http://${name}:`)).length;
  const answersOf = (name: string): number[] => [stack.ingress, second].map((replica) => replica.countLogs((r) => r.msg === ANSWERED && String(r['host']).split(':')[0] === name));
  for (const name of NAMES) {
    await waitFor(`${name}: every fetch answered`, () => {
      const attempts = attemptsOf(name);
      return attempts >= 1 && answersOf(name).reduce((a, b) => a + b, 0) === attempts;
    }, SERVE_TIMEOUT_MS).catch((err: Error) => {
      throw new Error(`${err.message} (pebble fetches ${attemptsOf(name)}, answers per replica ${answersOf(name).join(', ')})`);
    });
  }

  // Both replicas serve each issued certificate by SNI, verified against pebble's root.
  for (const port of [stack.httpsPort, secondHttpsPort]) {
    for (const record of records) {
      const served = await waitFor(`${record.name} served on ${port}`, async (): Promise<HandshakeResult | undefined> => {
        const result = await handshake(port, record.name, root);
        return result.serial === record.serial ? result : undefined;
      }, SERVE_TIMEOUT_MS, HANDSHAKE_POLL_INTERVAL_MS);
      assert.equal(served.authorized, true);
    }
  }
  assert.equal(stack.ingress.exited || second.exited, false);
});
