/**
 * cert-manager on SIGTERM mid-order: the order it cannot finish within its drain deadline is
 * handed back (the certificate lock released, the job back in the queue's `wait` list, not
 * failed) and another replica completes it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@hopgate/keys';
import { Stack, startPebble, waitFor, type RunningPebble } from '@hopgate/testkit';
import { assertIssuedFor, certManagerEnv, waitValid } from './acme-helpers.js';
import { exitCodeOf } from './ops-helpers.js';

const NAME = 'handed-back.drain.test';
/** The first replica's drain deadline, in ms: its order is held far longer, so it is handed back. */
const DRAIN_TIMEOUT_MS = 3_000;
const ISSUE_TIMEOUT_MS = 30_000;

/**
 * The port pebble validates HTTP-01 on: while `holding`, connections are accepted and left
 * unanswered (the order stays mid-validation); after, they are forwarded to the ingress.
 */
class ValidationGate {
  holding = true;
  held = 0;
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;

  constructor(private readonly ingressHttpPort: number) {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      if (this.holding) {
        this.held += 1;
        return;
      }
      const upstream = net.connect(this.ingressHttpPort, '127.0.0.1');
      this.sockets.add(upstream);
      upstream.on('error', () => socket.destroy());
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }
}

const keys = new RedisKeys();
let stack: Stack;
let pebble: RunningPebble;
let gate: ValidationGate;
let redis: Redis;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-cert-drain-'));
  stack = await Stack.start({ dir, hubs: 0 });
  gate = new ValidationGate(stack.httpPort);
  pebble = await startPebble({ dir: path.join(dir, 'pebble'), httpPort: await gate.listen() });
  redis = new Redis(stack.redis.url);
});

after(async () => {
  redis?.disconnect();
  gate?.close();
  await stack?.stop();
  await pebble?.stop();
});

test('SIGTERM mid-order: lock released, job back in the queue, another replica completes it', async () => {
  const env = (id: string, extra: Record<string, string> = {}): Record<string, string> =>
    certManagerEnv(pebble, { HOPGATE_ACME_DOMAINS: NAME, HOPGATE_CERT_MANAGER_ID: id, ...extra });
  const first = await stack.startCertManager(env('replica-a', { HOPGATE_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS) }));
  // Mid-order: pebble is validating (its connection held) and replica-a holds the name's lock.
  await waitFor('pebble validating', () => gate.held > 0, ISSUE_TIMEOUT_MS);
  assert.match((await redis.get(keys.certLock(NAME))) ?? '', /^replica-a\//);
  const exited = exitCodeOf(first);
  const signalledAt = Date.now();
  first.child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.ok(Date.now() - signalledAt < DRAIN_TIMEOUT_MS + 3_000, 'within the drain deadline');
  assert.ok(first.records.some((r) => r.msg === 'order handed back (draining)' && r['cert_name'] === NAME));
  assert.ok(first.records.some((r) => r.msg === 'drained: running orders handed back to the queue'));
  assert.equal(first.records.some((r) => r.msg === 'certificate order failed'), false, 'handed back, not failed');
  // The lock released, the job waiting (not active, not failed, its attempt not spent).
  assert.equal(await redis.get(keys.certLock(NAME)), null);
  const queue = `${keys.bullPrefix}:cert-issue`;
  assert.deepEqual(await redis.lrange(`${queue}:wait`, 0, -1), [`issue-${NAME}`]);
  assert.deepEqual(await redis.lrange(`${queue}:active`, 0, -1), []);
  assert.equal(await redis.hget(`${queue}:issue-${NAME}`, 'atm'), null, 'no attempt counted');
  // Another replica takes the job and completes the order.
  gate.holding = false;
  const second = await stack.startCertManager(env('replica-b'));
  const record = await waitValid(redis, NAME, ISSUE_TIMEOUT_MS);
  assertIssuedFor(record, NAME, await pebble.rootPem());
  assert.ok(second.records.some((r) => r.msg === 'certificate issued' && r['cert_name'] === NAME));
});
