/**
 * NATS with the documented server config (deploy/nats/hopgate-nats.conf): one user per
 * service with the permissions docs/nats.md explains, over TLS (tls:// + HOPGATE_NATS_CA_FILE).
 * The whole stack serves through it; a connection as the ingress user that tries to act as a
 * hub (announce a session, send hub frames) is refused by the server and changes nothing; a
 * wrong password makes a service exit 1 with a clear message.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, errors as natsErrors, type NatsConnection } from '@nats-io/transport-node';
import { NatsSubjects } from '@hopgate/keys';
import { Stack, waitFor, type BusLogin, type ManagedProcess } from '@hopgate/testkit';
import { startOrigin, PublicClient, type Origin } from './helpers.js';
import { randomPassword, readDeployFile, runUntilExit } from './bus-helpers.js';

const HOST = 'app.hopgate.test';
const subjects = new NatsSubjects();
const passwords = { ingress: randomPassword(), hub: randomPassword(), certManager: randomPassword(), ops: randomPassword() };
const natsLogin = (user: string, password: string): BusLogin => ({ nats: { user, password } });

let stack: Stack;
let web: Origin;
let pub: PublicClient;
let agent: ManagedProcess;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-nats-perms-'));
  stack = await Stack.start({
    dir,
    natsConfig: readDeployFile('nats/hopgate-nats.conf'),
    natsEnv: {
      HOPGATE_NATS_INGRESS_PASSWORD: passwords.ingress,
      HOPGATE_NATS_HUB_PASSWORD: passwords.hub,
      HOPGATE_NATS_CERT_MANAGER_PASSWORD: passwords.certManager,
      HOPGATE_NATS_OPS_PASSWORD: passwords.ops,
    },
    busTls: true,
    logins: {
      ingress: natsLogin('hopgate-ingress', passwords.ingress),
      hub: natsLogin('hopgate-hub', passwords.hub),
    },
  });
  web = await startOrigin('web');
  const token = await stack.addClient('laptop');
  await stack.setRoute(HOST, '/', 'laptop/web');
  agent = await stack.startAgent({ clientId: 'laptop', token, services: { web: web.address } });
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await stack?.stop();
  await web?.close();
});

/** A connection to the stack's nats-server over TLS as `user`, with the server errors it sees. */
async function connectAs(user: string, password: string): Promise<{ nc: NatsConnection; refused: Array<{ operation: string; subject: string }> }> {
  const nc = await connect({ servers: stack.nats.url, user, pass: password, tls: { ca: fs.readFileSync(stack.ca.certFile, 'utf8') } });
  const refused: Array<{ operation: string; subject: string }> = [];
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'error' && status.error instanceof natsErrors.PermissionViolationError) refused.push({ operation: status.error.operation, subject: status.error.subject });
    }
  })();
  return { nc, refused };
}

/** nats-server's log lines about refused publishes and subscriptions. */
function serverViolations(): string[] {
  return fs
    .readFileSync(path.join(stack.logDir, 'nats-server.log'), 'utf8')
    .split('\n')
    .filter((line) => /Publish Violation|Subscription Violation/.test(line));
}

test('the stack serves end to end over TLS with per-service users, and no service meets a permission violation', async () => {
  assert.match(stack.nats.url, /^tls:\/\//);
  for (let i = 0; i < 5; i++) {
    const res = await pub.request(HOST, '/hello');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello from web\n');
  }
  assert.deepEqual(serverViolations(), []);
  for (const proc of [stack.ingress, stack.hubs[0]!.process]) {
    assert.equal(proc.countLogs((r) => String(r.msg).startsWith('nats: permission violation')), 0, `${proc.name} met no permission violation`);
  }
});

test('the ingress user cannot act as a hub: a session announcement and hub frames are refused by the server, the stack still serves', async (t) => {
  const { nc, refused } = await connectAs('hopgate-ingress', passwords.ingress);
  t.after(() => nc.close());
  const hub = stack.hubs[0]!.process;
  const replacedBefore = hub.countLogs((r) => String(r.msg).includes('replaced'));
  // A forged claim with a huge epoch would make the hub close the agent's session.
  nc.publish(subjects.sessionClaimed, JSON.stringify({ client_id: 'laptop', epoch: Number.MAX_SAFE_INTEGER, hub_id: 'forged' }));
  // Frames "from a hub" to the ingress.
  nc.publish(subjects.ingress('ingress-1'), new Uint8Array([0x48, 0x52, 0x01, 0x08, 0, 0, 0, 0, 1, 0x78]));
  // Reading another node's traffic.
  const eavesdrop = nc.subscribe(subjects.hub('hub-1'));
  await nc.flush();
  await waitFor('three refusals seen by the client', () => refused.length >= 3);
  assert.deepEqual(
    refused.map((r) => `${r.operation} ${r.subject}`).sort(),
    ['publish hopgate.ingress.ingress-1', 'publish hopgate.session.claimed', 'subscription hopgate.hub.hub-1'],
  );
  assert.equal(eavesdrop.isClosed(), true);
  // The server logged them with the user and the subject.
  await waitFor('violations in the server log', () => serverViolations().length >= 3);
  const logged = serverViolations().join('\n');
  assert.match(logged, /Publish Violation - User "hopgate-ingress", Subject "hopgate\.session\.claimed"/);
  assert.match(logged, /Subscription Violation - User "hopgate-ingress", Subject "hopgate\.hub\.hub-1"/);
  // Nothing happened: the session stays, requests are served, no service restarted.
  const res = await pub.request(HOST, '/hello');
  assert.equal(res.status, 200);
  assert.equal(hub.countLogs((r) => String(r.msg).includes('replaced')), replacedBefore, 'the hub did not close the session');
  assert.equal(agent.countLogs((r) => r.msg === 'online: session established'), 1, 'the agent kept its one session');
  for (const proc of [stack.ingress, hub, agent]) assert.equal(proc.exited, false, `${proc.name} still runs`);
});

test('the cert-manager user may only announce certificates; the ops user may watch but not announce sessions', async (t) => {
  const manager = await connectAs('hopgate-cert-manager', passwords.certManager);
  t.after(() => manager.nc.close());
  const ops = await connectAs('hopgate-ops', passwords.ops);
  t.after(() => ops.nc.close());
  const watched = ops.nc.subscribe('hopgate.>');
  await ops.nc.flush();
  manager.nc.publish(subjects.certUpdated, JSON.stringify({ name: 'x.hopgate.test', not_after: '', serial: '' }));
  manager.nc.subscribe(subjects.certUpdated);
  manager.nc.publish(subjects.hub('hub-1'), 'x');
  ops.nc.publish(subjects.sessionClaimed, '{}');
  await Promise.all([manager.nc.flush(), ops.nc.flush()]);
  await waitFor('refusals', () => manager.refused.length >= 2 && ops.refused.length >= 1);
  assert.deepEqual(manager.refused.map((r) => `${r.operation} ${r.subject}`).sort(), ['publish hopgate.hub.hub-1', 'subscription hopgate.cert.updated']);
  assert.deepEqual(ops.refused.map((r) => `${r.operation} ${r.subject}`), ['publish hopgate.session.claimed']);
  for await (const msg of watched) {
    assert.equal(msg.subject, subjects.certUpdated, 'the allowed announcement went out (and the ops user sees it)');
    break;
  }
});

test('a wrong NATS password: the service exits 1 at start with a clear message that names the user, not the password', async () => {
  const wrong = randomPassword();
  const exit = await runUntilExit(stack, 'https-ingress', 'ingress-wrong-password', {
    ...stack.commonEnv(natsLogin('hopgate-ingress', wrong)),
    HOPGATE_HTTPS_LISTEN: 'off',
    HOPGATE_HTTP_LISTEN: '127.0.0.1:0',
    HOPGATE_INGRESS_ID: 'ingress-wrong-password',
  });
  assert.equal(exit.code, 1);
  assert.equal(exit.fatal?.msg, 'https-ingress failed to start');
  assert.match(String(exit.fatal?.err), /^NATS at tls:\/\/127\.0\.0\.1:\d+ refused the login of user "hopgate-ingress" \(HOPGATE_NATS_USER \/ HOPGATE_NATS_PASSWORD\): Authorization Violation$/);
  assert.ok(!JSON.stringify(exit.fatal).includes(wrong), 'the password is not logged');
  // The stack is unaffected.
  assert.equal((await pub.request(HOST, '/hello')).status, 200);
});

test('a user whose permissions miss the service\'s own subject: the service exits 1 at start naming the subject, instead of running deaf', async () => {
  // The cert-manager user may log in but subscribe to nothing: a hub cannot receive its OPENs.
  const exit = await runUntilExit(stack, 'dtls-hub', 'hub-wrong-user', {
    ...stack.commonEnv(natsLogin('hopgate-cert-manager', passwords.certManager)),
    HOPGATE_HUB_ID: 'hub-wrong-user',
    HOPGATE_DTLS_LISTEN: '127.0.0.1:0',
    HOPGATE_DTLS_CERT_FILE: stack.hubCert.certFile,
    HOPGATE_DTLS_KEY_FILE: stack.hubCert.keyFile,
  });
  assert.equal(exit.code, 1);
  assert.equal(exit.fatal?.msg, 'dtls-hub failed to start');
  assert.match(String(exit.fatal?.err), /^NATS refused the subscription to hopgate\.hub\.hub-wrong-user: check this user's subscribe permissions/);
});
