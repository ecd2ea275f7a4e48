import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { HopError, ErrorCode } from '@hopgate/errors';
import { cookieFromHelloVerifyRequest, rawClientHello, waitFor } from '@hopgate/testkit';
import { DtlsHubServer, connectDtls, type DtlsServerLink } from '../src/index.js';
import { makeTestPki, TEST_SERVER_NAME, type TestPki } from '../test-support/certs.js';
import { collect, connectPair, numbered, type LinkPair, TEST_TIMEOUT_MS } from '../test-support/fixtures.js';

async function udpSocket(port = 0, reuseAddr = false): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr });
  socket.bind(port, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

async function closeSocket(socket: dgram.Socket): Promise<void> {
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

/** Sends a datagram and waits until the kernel has taken it. */
async function sendTo(socket: dgram.Socket, datagram: Buffer, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => socket.send(datagram, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
}

async function exchange(pair: LinkPair, label: number): Promise<void> {
  const atHub = collect(pair.server);
  const atAgent = collect(pair.client);
  pair.client.send(numbered(label));
  pair.server.send(numbered(label));
  await waitFor(`datagram ${label} both ways`, () => atHub.length === 1 && atAgent.length === 1);
  assert.equal(atHub[0]?.readUInt32BE(0), label);
  assert.equal(atAgent[0]?.readUInt32BE(0), label);
}

describe('DTLS hub robustness', { timeout: TEST_TIMEOUT_MS }, () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => pki.cleanup());

  test('garbage and 1-12 byte datagrams are dropped and counted; live sessions are fine', async () => {
    const pair = await connectPair(pki, pki.ecdsa);
    const attacker = await udpSocket();
    try {
      const hubPort = pair.hub.address().port;
      const junk: Buffer[] = [];
      for (let size = 1; size <= 12; size += 1) junk.push(Buffer.alloc(size, 22));
      junk.push(randomBytes(300));
      junk.push(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
      // A record header claiming more bytes than the datagram has.
      junk.push(Buffer.from([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0x04, 0x00, 1, 2, 3]));
      // A well-framed ClientHello record with a truncated body.
      junk.push(Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 13, 1, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0, 40, 0xfe]));
      for (const datagram of junk) await sendTo(attacker, datagram, hubPort);
      await waitFor('all junk counted', () => pair.hub.stats().garbage_dropped === junk.length);
      assert.equal(pair.hub.stats().internal_errors, 0);
      assert.equal(pair.hub.sessionCount, 1);
      await exchange(pair, 1);
    } finally {
      await closeSocket(attacker);
      await pair.close();
    }
  });

  test('a ClientHello without or with a bad cookie from a live session address does not disturb it', async () => {
    const pair = await connectPair(pki, pki.ecdsa, { relay: true });
    try {
      const relay = pair.relay;
      assert.ok(relay);
      assert.equal(pair.server.remote, `127.0.0.1:${relay.upstreamPort}`);
      await exchange(pair, 1);
      const closed: Array<Error | undefined> = [];
      pair.server.onClose((err) => closed.push(err));
      const before = pair.hub.stats();

      // Same address and port as the live session, as an off-path attacker would spoof it.
      const spoofer = await udpSocket(relay.upstreamPort, true);
      try {
        await sendTo(spoofer, rawClientHello(), pair.hub.address().port);
        await sendTo(spoofer, rawClientHello({ cookie: randomBytes(32), recordSequence: 1, messageSeq: 1 }), pair.hub.address().port);
        await sendTo(spoofer, Buffer.alloc(5, 22), pair.hub.address().port);
        await waitFor('both hellos answered statelessly', () => pair.hub.stats().cookies_sent === before.cookies_sent + 2);
        await waitFor('the tiny datagram counted', () => pair.hub.stats().garbage_dropped === before.garbage_dropped + 1);
      } finally {
        await closeSocket(spoofer);
      }

      const after = pair.hub.stats();
      assert.equal(after.bad_cookies, before.bad_cookies + 1);
      assert.equal(after.pending_handshakes, 0, 'nothing allocated for a hello without a valid cookie');
      assert.equal(after.sessions_replaced, 0);
      assert.equal(pair.hub.sessionCount, 1);
      assert.deepEqual(closed, []);
      await exchange(pair, 2);
    } finally {
      await pair.close();
    }
  });

  test('a completed handshake from the same address replaces the live session', async () => {
    const pair = await connectPair(pki, pki.ecdsa, { relay: true });
    try {
      const relay = pair.relay;
      assert.ok(relay);
      const oldClosed = new Promise<Error | undefined>((resolve) => pair.server.onClose(resolve));
      const session = once(pair.hub, 'session') as Promise<[DtlsServerLink]>;
      // A second agent behind the same relay: the hub sees the same address:port (NAT rebinding).
      const second = await connectDtls({ host: '127.0.0.1', port: relay.port, serverName: TEST_SERVER_NAME, ca: pki.caPem });
      const [newServer] = await session;
      try {
        const err = await oldClosed;
        assert.ok(err instanceof HopError);
        assert.equal(err.code, ErrorCode.SessionReplaced);
        assert.equal(newServer.remote, pair.server.remote);
        assert.equal(pair.hub.sessionCount, 1);
        assert.equal(pair.hub.stats().sessions_replaced, 1);
        const atHub = collect(newServer);
        second.send(numbered(7));
        await waitFor('datagram on the new session', () => atHub.length === 1);
      } finally {
        second.close();
      }
    } finally {
      await pair.close();
    }
  });

  test('an abandoned handshake is freed at the handshake deadline', async () => {
    const hub = await DtlsHubServer.listen({
      host: '127.0.0.1',
      port: 0,
      certPem: pki.ecdsa.certPem,
      keyPem: pki.ecdsa.keyPem,
      handshakeTimeoutMs: 300,
    });
    const peer = await udpSocket();
    try {
      const replies: Buffer[] = [];
      peer.on('message', (datagram) => replies.push(datagram));
      const random = randomBytes(32);
      await sendTo(peer, rawClientHello({ random }), hub.address().port);
      await waitFor('HelloVerifyRequest', () => replies.length === 1);
      const cookie = cookieFromHelloVerifyRequest(replies[0] ?? Buffer.alloc(0));
      assert.ok(cookie && cookie.length === 32);
      await sendTo(peer, rawClientHello({ random, cookie, recordSequence: 1, messageSeq: 1 }), hub.address().port);
      await waitFor('a handshake in progress', () => hub.stats().pending_handshakes === 1);
      await waitFor('server flight 4', () => replies.length >= 2);
      // The ServerHello continues the record numbers after the ClientHello's (as OpenSSL does).
      assert.equal(replies[1]?.readUIntBE(5, 6), 2);
      await waitFor('the deadline to free it', () => hub.stats().pending_handshakes === 0, 3_000);
      assert.equal(hub.stats().handshake_timeouts, 1);
      assert.equal(hub.sessionCount, 0);
    } finally {
      await closeSocket(peer);
      await hub.close();
    }
  });

  test('maxSessions: a handshake beyond the limit is refused, the live session is untouched', async () => {
    const pair = await connectPair(pki, pki.ecdsa, { hub: { maxSessions: 1 } });
    try {
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port: pair.hub.address().port, serverName: TEST_SERVER_NAME, ca: pki.caPem, handshakeTimeoutMs: 400 }),
        (err: unknown) => err instanceof HopError && err.code === ErrorCode.Timeout,
      );
      assert.ok(pair.hub.stats().sessions_refused >= 1);
      assert.equal(pair.hub.sessionCount, 1);
      await exchange(pair, 3);
    } finally {
      await pair.close();
    }
  });
});
