/**
 * Agent containment: a service name from the wire is looked up as an own key only
 * (`constructor`, `__proto__`, `toString` are ordinary unknown names: 502 for that request),
 * and nothing a hub sends (garbage on the control stream, unexpected message types, malformed
 * request heads, resets at any point, a malformed hello answer) makes the agent exit. The one
 * exception is go_away ERR_SESSION_REPLACED, a deliberate replacement: exit 3.
 * The hostile hub (hostile-hub.ts) is built from the project's own DTLS, transport and wire code.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack, waitFor, type ManagedProcess, type LogRecord } from '@hopgate/testkit';
import { encodeMessage, type RequestHead, type WireMessage } from '@hopgate/wire';
import { startOrigin, PublicClient, assertPublicError, waitForIngressReason, type Origin } from './helpers.js';
import { HostileHub, type HostilePeer } from './hostile-hub.js';

const HOST = 'names.hopgate.test';
/** Service names that are properties of every plain object, each behind its own route prefix. */
const INHERITED_NAMES = ['constructor', 'toString', 'hasOwnProperty', 'valueOf'];
/** The agent's reconnect and refusal backoffs here, short so each reconnect takes a moment, in ms. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 500;
/** Per test: a path that hangs shows up as a failure, in ms. */
const TEST_TIMEOUT_MS = 90_000;
/** A reconnect to the hostile hub is seen within this, in ms. */
const RECONNECT_DEADLINE_MS = 15_000;

let stack: Stack;
let origin: Origin;
let pub: PublicClient;
let agent: ManagedProcess;
let hostile: HostileHub;
let hostileAgent: ManagedProcess;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-containment-'));
  stack = await Stack.start({ dir, hubs: 1 });
  origin = await startOrigin('names');
  const token = await stack.addClient('namebox');
  await stack.setRoute(HOST, '/', 'namebox/web');
  for (const name of INHERITED_NAMES) await stack.setRoute(HOST, `/${name}`, `namebox/${name}`);
  agent = await stack.startAgent({ clientId: 'namebox', token, services: { web: origin.address } });
  hostile = await HostileHub.start(stack.hubCert.certFile, stack.hubCert.keyFile);
  hostileAgent = await stack.startAgent({
    clientId: 'victim',
    token: 'any-token',
    services: { web: origin.address },
    serverPort: hostile.port,
    extra: { reconnect_min_ms: RECONNECT_MIN_MS, reconnect_max_ms: RECONNECT_MAX_MS, refused_retry_min_ms: RECONNECT_MIN_MS, refused_retry_max_ms: RECONNECT_MAX_MS },
  });
  pub = new PublicClient(stack);
});

after(async () => {
  await pub?.close();
  await hostile?.close();
  await stack?.stop();
  await origin?.close();
});

const isFatal = (r: LogRecord): boolean => r.level === 'fatal';

function assertAlive(proc: ManagedProcess): void {
  assert.equal(proc.exited, false, `${proc.name} exited (${proc.child.exitCode}): ${proc.stderr.slice(-500)}`);
  assert.equal(proc.countLogs(isFatal), 0, `${proc.name} logged a crash: ${JSON.stringify(proc.records.find(isFatal))}`);
}

function head(service: string, pathname: string, extra: Partial<RequestHead> = {}): RequestHead {
  return { type: 'request_head', request_id: `test-${crypto.randomUUID()}`, service, method: 'GET', path: pathname, headers: [['host', HOST]], has_body: false, ...extra };
}

/** A frame with a tag no message has (length 1 + 2 bytes of payload). */
function unknownTagFrame(): Buffer {
  return Buffer.from([0, 0, 0, 3, 99, 0x7b, 0x7d]);
}

/** A whole frame of `kind`'s tag with a payload that fails validation. */
function malformedFrame(tag: number, json: string): Buffer {
  const payload = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(5 + payload.length);
  out.writeUInt32BE(1 + payload.length, 0);
  out[4] = tag;
  payload.copy(out, 5);
  return out;
}

async function expectServed(peer: HostilePeer): Promise<void> {
  const outcome = await peer.exchange(encodeMessage(head('web', '/hello')));
  assert.equal(outcome.message?.type, 'response_head', JSON.stringify(outcome));
  assert.equal((outcome.message as WireMessage & { status: number }).status, 200);
  assert.equal(outcome.body.toString(), 'hello from names\n');
}

test(`services named ${INHERITED_NAMES.join(', ')}: 502 for that request; the agent stays up and keeps serving`, { timeout: TEST_TIMEOUT_MS }, async () => {
  for (const name of INHERITED_NAMES) {
    const res = await pub.request(HOST, `/${name}/x`);
    assert.equal(res.status, 502, `${name}: ${res.body.toString()}`);
    const id = assertPublicError(res.body.toString(), 'ERR_UNKNOWN_SERVICE', res.headers['x-hopgate-request-id'] as string);
    await waitForIngressReason(stack, id, new RegExp(`agent has no service "${name}"`));
    assertAlive(agent);
  }
  const ok = await pub.request(HOST, '/hello');
  assert.equal(ok.status, 200);
  assert.equal(ok.body.toString(), 'hello from names\n');
  assert.equal(agent.countLogs((r) => r.msg === 'request for a service this agent does not serve'), INHERITED_NAMES.length);
  assertAlive(agent);
});

test('well-formed messages of unexpected types on the control stream are ignored; the session keeps serving', { timeout: TEST_TIMEOUT_MS }, async () => {
  const peer = await hostile.peer(0);
  const hellosBefore = hostile.hellos;
  const unexpected: WireMessage[] = [
    { type: 'hello_ok', hub_id: 'again', epoch: 1 },
    { type: 'hello_reject', code: 'ERR_AUTH_FAILED', reason: 'too late to matter' },
    { type: 'hello', client_id: 'x', token: 'y', agent_version: '0', services: [] },
    head('web', '/on-the-control-stream'),
    { type: 'response_head', status: 200, headers: [] },
    { type: 'stream_error', code: 'ERR_INTERNAL', message: 'nothing' },
  ];
  for (const msg of unexpected) peer.sendControl(encodeMessage(msg));
  await hostileAgent.waitForLog('ignored', (r) => r.msg === 'unexpected message on the control stream: ignored');
  await expectServed(peer);
  assert.equal(peer.closed, false);
  assert.equal(hostile.hellos, hellosBefore, 'the agent did not reconnect');
  assert.equal(hostileAgent.countLogs((r) => r.msg === 'unexpected message on the control stream: ignored' && r.level === 'warn'), 1, 'one warn line per session');
  assertAlive(hostileAgent);
});

test('malformed request streams get stream_error or a reset, each alone; the agent keeps serving', { timeout: TEST_TIMEOUT_MS }, async () => {
  const peer = hostile.peers.at(-1)!;
  const hellosBefore = hostile.hellos;
  // Inherited property names are unknown services (ERR_UNKNOWN_SERVICE -> 502 at the ingress).
  for (const name of ['__proto__', ...INHERITED_NAMES]) {
    const outcome = await peer.exchange(encodeMessage(head(name, '/')));
    assert.equal(outcome.message?.type, 'stream_error', `${name}: ${JSON.stringify(outcome)}`);
    assert.equal((outcome.message as { code: string }).code, 'ERR_UNKNOWN_SERVICE', name);
  }
  // Heads the local HTTP clients refuse: answered with stream_error, never a crash.
  const refusedHeads: RequestHead[] = [
    head('web', '/', { method: 'GE T' }),
    head('web', 'no-slash'),
    head('web', '/', { headers: [['bad name', 'x']] }),
    head('web', '/', { headers: [['x-split', 'a\r\nInjected: 1']] }),
    head('web', '/', { headers: [['upgrade', 'websocket'], ['connection', 'upgrade'], ['bad name', 'x']] }),
    head('web', '/', { headers: [['upgrade', 'websocket'], ['connection', 'upgrade'], ['x-split', 'a\r\nInjected: 1']] }),
    head('web', '/', { method: 'GE T', headers: [['upgrade', 'websocket'], ['connection', 'upgrade']] }),
    head('web', `/${'x'.repeat(60_000)}`),
  ];
  for (const bad of refusedHeads) {
    const outcome = await peer.exchange(encodeMessage(bad));
    const what = `${bad.method} ${bad.path.slice(0, 20)} ${JSON.stringify(bad.headers)}`;
    assert.notEqual(outcome.code, 'TEST_TIMEOUT', `${what}: no answer`);
    assert.ok(outcome.message === undefined || outcome.message.type === 'stream_error' || outcome.message.type === 'response_head', `${what}: ${JSON.stringify(outcome.message)}`);
    assertAlive(hostileAgent);
  }
  // Bytes that are no request head at all: the agent resets that stream.
  const notHeads: Buffer[] = [
    crypto.randomBytes(64),
    unknownTagFrame(),
    Buffer.from([0xff, 0xff, 0xff, 0xff, 4]),
    malformedFrame(4, '{"request_id":1}'),
    malformedFrame(4, 'not json'),
    encodeMessage({ type: 'response_head', status: 200, headers: [] }),
    encodeMessage({ type: 'go_away', code: 'ERR_SESSION_REPLACED', reason: 'on a request stream: not a control message' }),
    Buffer.alloc(0),
  ];
  for (const bytes of notHeads) {
    const outcome = await peer.exchange(bytes);
    assert.notEqual(outcome.code, 'TEST_TIMEOUT', `${bytes.subarray(0, 8).toString('hex')}: no answer`);
    assert.equal(outcome.message, undefined, JSON.stringify(outcome));
    assertAlive(hostileAgent);
  }
  // Resets at every point: before any byte, mid-head, after the head of a request that never ends.
  const whole = encodeMessage(head('web', '/hang'));
  peer.resetAfter(Buffer.alloc(0));
  peer.resetAfter(whole.subarray(0, 7));
  peer.resetAfter(whole);
  peer.resetAfter(encodeMessage(head('web', '/sha256', { method: 'POST', has_body: true })));
  // A head that says a body follows, then FIN at once: an empty upload.
  const empty = await peer.exchange(encodeMessage(head('web', '/sha256', { method: 'POST', has_body: true })));
  assert.equal(empty.message?.type, 'response_head');
  assert.equal(JSON.parse(empty.body.toString()).length, 0);
  await expectServed(peer);
  assert.equal(peer.closed, false);
  assert.equal(hostile.hellos, hellosBefore, 'the agent kept the same session');
  assertAlive(hostileAgent);
});

test('garbage, a reset or an end on the control stream closes that session; the agent reconnects and serves', { timeout: TEST_TIMEOUT_MS }, async () => {
  const breakers: Array<[string, (peer: HostilePeer) => void]> = [
    ['random bytes', (peer) => peer.sendControl(crypto.randomBytes(40))],
    ['an unknown message tag', (peer) => peer.sendControl(unknownTagFrame())],
    ['a go_away that fails validation', (peer) => peer.sendControl(malformedFrame(7, '{"code":5}'))],
    ['a go_away with an unknown code', (peer) => peer.sendControl(malformedFrame(7, '{"code":"ERR_NOT_A_CODE","reason":"?"}'))],
    ['a length prefix over the limit', (peer) => peer.sendControl(Buffer.from([0x7f, 0xff, 0xff, 0xff]))],
    ['a reset of the control stream', (peer) => peer.control.reset(1)],
    ['FIN on the control stream', (peer) => peer.control.end()],
    ['a closed connection', (peer) => peer.conn.close(1, 'hostile close')],
  ];
  for (const [what, breakIt] of breakers) {
    const index = hostile.peers.length - 1;
    const peer = hostile.peers[index]!;
    breakIt(peer);
    const next = await hostile.peer(index + 1, RECONNECT_DEADLINE_MS).catch((err: Error) => {
      throw new Error(`${what}: ${err.message}`);
    });
    await waitFor(`${what}: old session closed`, () => peer.closed, RECONNECT_DEADLINE_MS);
    await expectServed(next);
    assertAlive(hostileAgent);
  }
});

test('a malformed or unexpected answer to hello: the agent retries; a later hello_ok brings it online', { timeout: TEST_TIMEOUT_MS }, async () => {
  const answers: Array<Buffer | WireMessage> = [
    crypto.randomBytes(30),
    unknownTagFrame(),
    malformedFrame(2, '{"hub_id":"x","epoch":"one"}'),
    encodeMessage(head('web', '/')),
    { type: 'go_away', code: 'ERR_SESSION_REPLACED', reason: 'before hello_ok: no session to replace' },
    { type: 'hello_reject', code: 'ERR_INTERNAL', reason: 'try again' },
  ];
  const first = hostile.hellos + 1;
  hostile.answerHello = (_hello, n) => {
    const answer = answers[n - first];
    if (answer === undefined) return { message: { type: 'hello_ok', hub_id: 'hostile', epoch: n } };
    return Buffer.isBuffer(answer) ? { raw: answer } : { message: answer };
  };
  const index = hostile.peers.length - 1;
  hostile.peers[index]!.conn.close(1, 'start over');
  const onlineBefore = hostileAgent.countLogs((r) => r.msg === 'online: session established');
  await waitFor('every odd answer tried, then online again', () => hostile.hellos >= first + answers.length && hostileAgent.countLogs((r) => r.msg === 'online: session established') > onlineBefore, 60_000, 50);
  const peer = hostile.peers.at(-1)!;
  await expectServed(peer);
  assertAlive(hostileAgent);
});

test('go_away ERR_SESSION_REPLACED on the control stream is the one message that stops the agent (exit 3)', { timeout: TEST_TIMEOUT_MS }, async () => {
  const peer = hostile.peers.at(-1)!;
  peer.sendControl(encodeMessage({ type: 'go_away', code: 'ERR_SESSION_REPLACED', reason: 'another agent took over' }));
  await waitFor('agent exited with 3', () => hostileAgent.child.exitCode === 3, 10_000);
  assert.equal(hostileAgent.countLogs(isFatal), 0);
});
