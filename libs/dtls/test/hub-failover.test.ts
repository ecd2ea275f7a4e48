/**
 * What lets agents leave a dead hub fast and lets several hubs share one UDP address: the
 * agent's connected UDP socket turns an ICMP port unreachable into an immediate close, and a
 * shared cookie secret (rotated with an overlap) makes any hub accept any other's cookie.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HopError, ErrorCode } from '@hopgate/errors';
import { RawDtlsPeer, cookieFromHelloVerifyRequest, rawClientHello, waitFor } from '@hopgate/testkit';
import { connectDtls, DtlsHubServer } from '../src/index.js';
import { makeTestPki, TEST_SERVER_NAME, type TestPki } from '../test-support/certs.js';
import { TEST_TIMEOUT_MS } from '../test-support/fixtures.js';

/** An ICMP port unreachable on loopback arrives within a millisecond; the bound allows a busy machine, in ms. */
const ICMP_DETECTION_BOUND_MS = 500;
/** Handshake deadline of these tests: far above the ICMP bound, so only the ICMP path can be fast, in ms. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** DTLS handshake message type ServerHello (RFC 5246 §7.4). */
const SERVER_HELLO = 2;
/** Offset of the handshake message type in a datagram: after the 13-byte record header (RFC 6347 §4.1). */
const HANDSHAKE_TYPE_OFFSET = 13;

const HUB_PROCESS = path.join(path.dirname(fileURLToPath(import.meta.url)), '../test-support/hub-process.js');

let pki: TestPki;
before(async () => {
  pki = await makeTestPki();
});

describe('ICMP port unreachable on the agent\'s connected UDP socket', { timeout: TEST_TIMEOUT_MS }, () => {
  test('a hub killed with SIGKILL: the next datagram the agent sends closes its link at once, with the reason', async () => {
    const child = spawn(process.execPath, [HUB_PROCESS], {
      env: { ...process.env, HUB_CERT_PEM: pki.ecdsa.certPem, HUB_KEY_PEM: pki.ecdsa.keyPem },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer];
      const { port } = JSON.parse(line.toString()) as { port: number };
      const link = await connectDtls({ host: '127.0.0.1', port, serverName: TEST_SERVER_NAME, ca: pki.caPem, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS });
      const echoed = new Promise<Uint8Array>((resolve) => link.onDatagram(resolve));
      link.send(Buffer.from('before'));
      assert.equal(Buffer.from(await echoed).toString(), 'before', 'the hub process echoes');
      const closed = new Promise<{ err: Error | undefined; at: number }>((resolve) => link.onClose((err) => resolve({ err, at: performance.now() })));
      child.kill('SIGKILL');
      await once(child, 'exit');
      const sentAt = performance.now();
      link.send(Buffer.from('anyone there?'));
      const { err, at } = await closed;
      const elapsed = at - sentAt;
      assert.ok(err instanceof HopError, `closed with ${String(err)}`);
      assert.equal(err.code, ErrorCode.Closed);
      assert.match(err.message, /^hub 127\.0\.0\.1:\d+ is unreachable: ICMP port unreachable/);
      assert.ok(elapsed < ICMP_DETECTION_BOUND_MS, `link closed ${elapsed} ms after the send`);
      console.log(`ICMP detection: link closed ${elapsed.toFixed(1)} ms after the first datagram to the killed hub`);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('no hub on the port: connectDtls fails with ERR_UNAVAILABLE at once, not after the handshake timeout', async () => {
    const hub = await DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem: pki.ecdsa.certPem, keyPem: pki.ecdsa.keyPem });
    const port = hub.address().port;
    await hub.close();
    const started = performance.now();
    await assert.rejects(
      connectDtls({ host: '127.0.0.1', port, serverName: TEST_SERVER_NAME, ca: pki.caPem, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS }),
      (err: unknown) => err instanceof HopError && err.code === ErrorCode.Unavailable && /ICMP port unreachable/.test(err.message),
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed < ICMP_DETECTION_BOUND_MS, `failed after ${elapsed} ms`);
  });
});

describe('a cookie secret shared by hubs behind one address (RFC 6347 §4.2.1)', { timeout: TEST_TIMEOUT_MS }, () => {
  const oldSecret = randomBytes(32);
  const newSecret = randomBytes(32);
  const hubs: DtlsHubServer[] = [];
  let peer: RawDtlsPeer;

  const listen = async (cookieSecret?: Buffer[]): Promise<DtlsHubServer> => {
    const hub = await DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem: pki.ecdsa.certPem, keyPem: pki.ecdsa.keyPem, ...(cookieSecret ? { cookieSecret } : {}) });
    hubs.push(hub);
    return hub;
  };

  before(async () => {
    peer = await RawDtlsPeer.open();
  });
  after(async () => {
    await peer.close();
    for (const hub of hubs) await hub.close();
  });

  /** A cookie from `minter` for a fresh ClientHello, then that ClientHello with the cookie sent to `verifier`: its first reply. */
  async function crossHello(minter: DtlsHubServer, verifier: DtlsHubServer): Promise<Buffer> {
    const random = randomBytes(32);
    let from = peer.replies.length;
    await peer.send(rawClientHello({ random, recordSequence: peer.nextRecordSequence() }), minter.address().port);
    const request = await waitFor('a HelloVerifyRequest', () => peer.replies.slice(from).find((reply) => cookieFromHelloVerifyRequest(reply)), 5_000, 5);
    const cookie = cookieFromHelloVerifyRequest(request)!;
    from = peer.replies.length;
    await peer.send(rawClientHello({ random, cookie, recordSequence: peer.nextRecordSequence(), messageSeq: 1 }), verifier.address().port);
    return waitFor('a reply from the second hub', () => peer.replies[from], 5_000, 5);
  }

  test('hub B accepts a cookie minted by hub A with the same secret: it answers with ServerHello, not a new cookie', async () => {
    const a = await listen([oldSecret]);
    const b = await listen([oldSecret]);
    const reply = await crossHello(a, b);
    assert.equal(cookieFromHelloVerifyRequest(reply), null, 'hub B asked for a cookie again');
    assert.equal(reply.readUInt8(HANDSHAKE_TYPE_OFFSET), SERVER_HELLO);
    assert.equal(b.stats().bad_cookies, 0);
  });

  test('rotation: the first secret signs, every one verifies; a hub with another secret refuses the cookie', async () => {
    const rotated = await listen([newSecret, oldSecret]);
    const old = await listen([oldSecret]);
    const random = await listen();
    // A hub still on the old secret mints; the rotated one verifies with its second secret.
    assert.equal((await crossHello(old, rotated)).readUInt8(HANDSHAKE_TYPE_OFFSET), SERVER_HELLO);
    // The rotated hub signs with the new secret: a hub without it asks again.
    const refused = await crossHello(rotated, old);
    assert.notEqual(cookieFromHelloVerifyRequest(refused), null, 'a cookie of the new secret passed a hub without it');
    assert.equal(old.stats().bad_cookies, 1);
    // Unset (random per process), as before: cookies of another hub never pass.
    assert.notEqual(cookieFromHelloVerifyRequest(await crossHello(old, random)), null);
    assert.equal(random.stats().bad_cookies, 1);
  });
});
