/**
 * HTTP/2 abuse limits at the ingress: the concurrent stream cap it advertises
 * (HOPGATE_H2_MAX_CONCURRENT_STREAMS) and how clients that exceed it are refused, and the
 * rapid-reset guard (CVE-2023-44487, HOPGATE_H2_MAX_RESETS_PER_WINDOW): streams reset before
 * their response count per connection, over the bound the connection gets
 * GOAWAY(ENHANCE_YOUR_CALM); a stream reset before its head left the ingress costs the hub
 * and the agent nothing. Node's own http2 client and a raw frame writer (h2-frames.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import { Stack, waitFor } from '@hopgate/testkit';
import { startEdgeOrigin, h2Connect, h2Request, ANSWER_TIMEOUT_MS, type EdgeOrigin } from './edge-helpers.js';
import { RawH2Connection, H2FrameType, H2Flag, H2_SETTINGS_MAX_CONCURRENT_STREAMS, h2Frame, h2Get, h2Headers, h2RstStream, h2ErrorCode, h2Status } from './h2-frames.js';

const HOST = 'abuse.hopgate.test';
/** HOPGATE_H2_MAX_CONCURRENT_STREAMS of the ingress under test. */
const H2_CAP = 8;
/** Streams opened above the cap. */
const EXTRA_STREAMS = 4;
/** HOPGATE_H2_MAX_RESETS_PER_WINDOW of the ingress under test. */
const RESET_LIMIT = 40;
/** An attack loop stops here if the ingress never closes the connection (then the test fails). */
const ATTACK_MAX_STREAMS = 10 * RESET_LIMIT;
/** Per test: a limit that never trips shows up as a failure, not a stuck run, in ms. */
const TEST_TIMEOUT_MS = 90_000;
const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;
const RAPID_RESET_LOG = 'http/2 connection closed: too many streams reset by the client (rapid reset)';

let stack: Stack;
let origin: EdgeOrigin;

before(async () => {
  origin = await startEdgeOrigin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-h2-abuse-'));
  stack = await Stack.start({
    dir,
    hubs: 1,
    ingressEnv: { HOPGATE_H2_MAX_CONCURRENT_STREAMS: String(H2_CAP), HOPGATE_H2_MAX_RESETS_PER_WINDOW: String(RESET_LIMIT) },
  });
  const token = await stack.addClient('abusebox');
  await stack.setRoute(HOST, '/', 'abusebox/web');
  await stack.startAgent({ clientId: 'abusebox', token, services: { web: origin.address } });
});

after(async () => {
  await stack?.stop();
  await origin?.close();
});

function seenWithPrefix(prefix: string): number {
  return origin.seen.filter((r) => r.url.startsWith(prefix)).length;
}

/** One request through the whole path on a connection of its own: everything sent before it has been through too. */
async function barrier(label: string): Promise<void> {
  const session = await h2Connect(stack, HOST);
  try {
    assert.equal((await h2Request(session, { ':path': `/barrier/${label}`, ':authority': HOST })).status, 200);
  } finally {
    session.destroy();
  }
}

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

test(`SETTINGS carry the cap of ${H2_CAP}; node's client queues the streams above it, the origin never holds more, all complete`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const session = await h2Connect(stack, HOST);
  try {
    await waitFor('the ingress SETTINGS', () => session.remoteSettings.maxConcurrentStreams === H2_CAP, ANSWER_TIMEOUT_MS);
    const replies = Array.from({ length: H2_CAP + EXTRA_STREAMS }, (_, i) => {
      const req = session.request({ ':method': 'POST', ':path': `/duplex?queued=${i}`, ':authority': HOST }, { endStream: false });
      // The agent's HTTP client sends a request head with the first body byte: start the body at once.
      req.write(`start-${i}|`);
      return {
        req,
        done: new Promise<{ status: number; body: string }>((resolve, reject) => {
          let status = 0;
          let body = '';
          req.on('response', (h) => (status = Number(h[':status'])));
          req.on('data', (c: Buffer) => (body += c.toString()));
          req.on('end', () => resolve({ status, body }));
          req.on('error', reject);
        }),
      };
    });
    await waitFor(`origin holds ${H2_CAP} streams`, () => seenWithPrefix('/duplex?queued=') === H2_CAP, ANSWER_TIMEOUT_MS);
    // Had the client sent the others, they would have been through before this round trip.
    await barrier('queued');
    assert.equal(seenWithPrefix('/duplex?queued='), H2_CAP, 'no stream above the cap reached the origin');
    for (const [i, { req }] of replies.entries()) req.end(`body-${i}`);
    const answers = await Promise.all(replies.map((r) => r.done));
    assert.deepEqual(answers, replies.map((_, i) => ({ status: 200, body: `start-${i}|body-${i}` })));
    assert.equal(seenWithPrefix('/duplex?queued='), H2_CAP + EXTRA_STREAMS);
  } finally {
    session.destroy();
  }
});

test('a client that opens more streams than the cap before acknowledging SETTINGS: the extra ones get RST_STREAM(REFUSED_STREAM), the others are answered', { timeout: TEST_TIMEOUT_MS }, async () => {
  const raw = await RawH2Connection.open(stack, HOST);
  try {
    const settings = await raw.serverSettings();
    assert.equal(settings.get(H2_SETTINGS_MAX_CONCURRENT_STREAMS), H2_CAP);
    // Client stream ids are odd (RFC 9113 §5.1.1); all HEADERS in one write, so none is answered before the last arrives.
    const ids = Array.from({ length: H2_CAP + EXTRA_STREAMS }, (_, i) => 1 + 2 * i);
    raw.write(Buffer.concat(ids.map((id) => h2Headers(id, h2Get(HOST, `/over-cap/${id}`)))));
    const served = ids.slice(0, H2_CAP);
    const refused = ids.slice(H2_CAP);
    const ended = (id: number): boolean => raw.frames.some((f) => f.streamId === id && (f.type === H2FrameType.Data || f.type === H2FrameType.Headers) && (f.flags & H2Flag.EndStream) !== 0);
    await waitFor('answers and refusals', () => served.every(ended) && raw.received(H2FrameType.RstStream).length >= refused.length, ANSWER_TIMEOUT_MS);
    for (const id of served) assert.equal(h2Status(raw.received(H2FrameType.Headers, id)[0]!), 200, `stream ${id}`);
    const resets = raw.received(H2FrameType.RstStream);
    assert.deepEqual(resets.map((f) => f.streamId), refused);
    assert.deepEqual(resets.map(h2ErrorCode), refused.map(() => NGHTTP2_REFUSED_STREAM));
    assert.deepEqual(
      origin.seen.filter((r) => r.url.startsWith('/over-cap/')).map((r) => r.url).sort(),
      served.map((id) => `/over-cap/${id}`).sort(),
    );
  } finally {
    raw.close();
  }
});

test('a client that exceeds the cap after acknowledging it loses the connection; the ingress serves on', { timeout: TEST_TIMEOUT_MS }, async () => {
  const raw = await RawH2Connection.open(stack, HOST);
  try {
    await raw.serverSettings();
    // The SETTINGS ACK, then a PING: its answer shows the ACK was processed (frames are handled in order).
    raw.write(Buffer.concat([h2Frame(H2FrameType.Settings, H2Flag.Ack, 0), h2Frame(H2FrameType.Ping, 0, 0, Buffer.alloc(8))]));
    await waitFor('PING answered', () => raw.frames.some((f) => f.type === H2FrameType.Ping && (f.flags & H2Flag.Ack) !== 0), ANSWER_TIMEOUT_MS);
    const ids = Array.from({ length: H2_CAP + EXTRA_STREAMS }, (_, i) => 1 + 2 * i);
    raw.write(Buffer.concat(ids.map((id) => h2Headers(id, h2Get(HOST, `/over-acked-cap/${id}`)))));
    await waitFor('the ingress closing the connection', () => raw.closed, ANSWER_TIMEOUT_MS);
    // nghttp2 takes it as a connection error (RFC 9113 §5.1.2 allows a stream error); node destroys
    // the session: GOAWAY and RST_STREAM(INTERNAL_ERROR) are sent, not always flushed before the close.
    const answered = raw.received(H2FrameType.Headers).map((f) => f.streamId);
    assert.ok(answered.every((id) => id < 1 + 2 * H2_CAP), `streams above the cap answered: ${JSON.stringify(answered)}`);
    await barrier('acked-cap');
    assert.ok(seenWithPrefix('/over-acked-cap/') <= H2_CAP, `${seenWithPrefix('/over-acked-cap/')} requests reached the origin`);
  } finally {
    raw.close();
  }
});

test(`rapid reset with node's client: GOAWAY(ENHANCE_YOUR_CALM) after ${RESET_LIMIT} resets, at most that many reach the origin, another connection is served throughout`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const logsBefore = stack.ingress.countLogs((r) => r.msg === RAPID_RESET_LOG);
  const bystander = await h2Connect(stack, HOST);
  const attacker = await h2Connect(stack, HOST);
  let goawayCode: number | undefined;
  attacker.on('goaway', (code: number) => (goawayCode ??= code));
  let attacking = true;
  const bystanderStatuses: number[] = [];
  const bystanderLoop = (async () => {
    while (attacking) bystanderStatuses.push((await h2Request(bystander, { ':path': '/bystander', ':authority': HOST })).status);
  })();
  let sent = 0;
  let answered = 0;
  try {
    for (let i = 0; i < ATTACK_MAX_STREAMS && goawayCode === undefined && !attacker.closed && !attacker.destroyed; i++) {
      const req = attacker.request({ ':path': `/rr-node/${i}`, ':authority': HOST });
      req.on('error', () => undefined);
      req.on('response', () => (answered += 1));
      // nghttp2 writes the HEADERS in a native immediate queued before this one; then the reset.
      await yieldTurn();
      if (!req.closed) req.close(NGHTTP2_CANCEL);
      sent += 1;
    }
    await waitFor('the attacker connection closed', () => attacker.closed || attacker.destroyed, ANSWER_TIMEOUT_MS);
  } finally {
    attacking = false;
    await bystanderLoop;
    bystander.destroy();
    attacker.destroy();
  }
  assert.equal(goawayCode, NGHTTP2_ENHANCE_YOUR_CALM);
  assert.ok(sent > RESET_LIMIT && sent < ATTACK_MAX_STREAMS, `${sent} streams sent before the GOAWAY`);
  assert.ok(bystanderStatuses.length > 0 && bystanderStatuses.every((s) => s === 200), `bystander got ${JSON.stringify(bystanderStatuses)}`);
  await barrier('rr-node');
  // Each request that reached the origin was answered, or is one of the resets the guard allowed,
  // or was in flight when the connection was closed (at most the cap).
  const reached = seenWithPrefix('/rr-node/');
  process.stdout.write(`# rapid reset (node client): ${sent} streams sent, ${answered} answered, ${reached} reached the origin, bystander served ${bystanderStatuses.length}\n`);
  assert.ok(reached <= RESET_LIMIT + 1 + answered + H2_CAP, `${reached} of ${sent} reset requests reached the origin (${answered} answered)`);
  const line = await stack.ingress.waitForLog('the rapid-reset log line', (r) => r.msg === RAPID_RESET_LOG, ANSWER_TIMEOUT_MS);
  assert.equal(line.level, 'warn');
  assert.equal(line['remote'], '127.0.0.1');
  assert.equal(line['max_resets'], RESET_LIMIT);
  assert.equal(stack.ingress.countLogs((r) => r.msg === RAPID_RESET_LOG), logsBefore + 1, 'logged once for the connection');
});

test('rapid reset as the attack sends it (HEADERS and RST_STREAM in one write): no request reaches the hub or the origin, nothing logged per stream above debug, GOAWAY(ENHANCE_YOUR_CALM)', { timeout: TEST_TIMEOUT_MS }, async () => {
  const cancelLogsBefore = stack.ingress.countLogs((r) => r.msg === 'client went away: cancelling');
  const failedBefore = stack.ingress.countLogs((r) => r.msg === 'request failed');
  const raw = await RawH2Connection.open(stack, HOST);
  let sent = 0;
  try {
    await raw.serverSettings();
    raw.write(h2Frame(H2FrameType.Settings, H2Flag.Ack, 0));
    for (let id = 1; sent < ATTACK_MAX_STREAMS && !raw.closed && raw.received(H2FrameType.GoAway).length === 0; id += 2) {
      // Paced by a PING after each pair: its answer means the ingress has read the pair (frames are handled in order).
      const ping = Buffer.alloc(8);
      ping.writeUInt32BE(id);
      raw.write(Buffer.concat([h2Headers(id, h2Get(HOST, `/rr-raw/${id}`)), h2RstStream(id, NGHTTP2_CANCEL), h2Frame(H2FrameType.Ping, 0, 0, ping)]));
      sent += 1;
      await waitFor(`PING ${id} answered or the connection closed`, () => raw.closed || raw.frames.some((f) => f.type === H2FrameType.Ping && f.payload.equals(ping)), ANSWER_TIMEOUT_MS);
    }
    await waitFor('the ingress closing the connection', () => raw.closed, ANSWER_TIMEOUT_MS);
  } finally {
    raw.close();
  }
  const goaways = raw.received(H2FrameType.GoAway);
  assert.equal(goaways.length, 1);
  assert.equal(h2ErrorCode(goaways[0]!), NGHTTP2_ENHANCE_YOUR_CALM);
  // The (RESET_LIMIT + 1)th reset trips the guard; a pair or two more may be on the way.
  assert.ok(sent > RESET_LIMIT && sent <= RESET_LIMIT + 3, `${sent} streams sent before the GOAWAY`);
  await barrier('rr-raw');
  assert.equal(seenWithPrefix('/rr-raw/'), 0, 'no reset request reached the origin');
  assert.equal(stack.ingress.countLogs((r) => r.msg === 'client went away: cancelling'), cancelLogsBefore);
  assert.equal(stack.ingress.countLogs((r) => r.msg === 'request failed'), failedBefore);
  // The ingress is still up and serving new connections.
  await barrier('after-attacks');
});
