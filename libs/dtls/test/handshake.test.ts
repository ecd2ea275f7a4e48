import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { HopError, ErrorCode } from '@hopgate/errors';
import { waitFor } from '@hopgate/testkit';
import {
  DtlsHubServer,
  connectDtls,
  MAX_DATAGRAM_SIZE_BYTES,
  MAX_SEND_DATAGRAM_BYTES,
  type DtlsServerLink,
} from '../src/index.js';
import { makeTestPki, TEST_SERVER_NAME, type TestIdentity, type TestPki } from '../test-support/certs.js';
import { collect, connectPair, TEST_TIMEOUT_MS } from '../test-support/fixtures.js';

function isHopError(code: ErrorCode, messagePart: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof HopError, `expected a HopError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, messagePart);
    return true;
  };
}

describe('DTLS handshake, agent client <-> hub server', { timeout: TEST_TIMEOUT_MS }, () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => pki.cleanup());

  async function roundTrip(identity: TestIdentity, leafName: RegExp): Promise<void> {
    const pair = await connectPair(pki, identity);
    try {
      assert.match(pair.client.peerCertificate.subject, leafName);
      assert.equal(pair.client.maxDatagramSize, 1163);
      assert.equal(pair.server.maxDatagramSize, 1163);
      const atHub = collect(pair.server);
      const atAgent = collect(pair.client);
      pair.client.send(Buffer.from('from agent'));
      pair.server.send(Buffer.from('from hub'));
      await waitFor('both datagrams', () => atHub.length === 1 && atAgent.length === 1);
      assert.equal(atHub[0]?.toString(), 'from agent');
      assert.equal(atAgent[0]?.toString(), 'from hub');
      assert.equal(pair.hub.sessionCount, 1);
      assert.equal(pair.hub.stats().cookies_sent, 1, 'every handshake goes through the stateless cookie');
    } finally {
      await pair.close();
    }
  }

  test('P-256 ECDSA hub certificate with an intermediate CA: datagrams both ways', async () => {
    await roundTrip(pki.ecdsa, /CN=ecdsa-leaf/);
  });

  test('RSA-2048 hub certificate: datagrams both ways', async () => {
    await roundTrip(pki.rsa, /CN=rsa-leaf/);
  });

  test('two sessions on one hub, datagrams interleaved: each reaches its own session (the hub keys the last source only while it repeats)', async () => {
    const hub = await DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem: pki.ecdsa.certPem, keyPem: pki.ecdsa.keyPem });
    const clients: Awaited<ReturnType<typeof connectDtls>>[] = [];
    try {
      const links: DtlsServerLink[] = [];
      hub.on('session', (link: DtlsServerLink) => links.push(link));
      for (let i = 0; i < 2; i++) {
        clients.push(await connectDtls({ host: '127.0.0.1', port: hub.address().port, serverName: TEST_SERVER_NAME, ca: pki.caPem, handshakeTimeoutMs: 5_000 }));
      }
      await waitFor('two sessions', () => links.length === 2);
      const received = links.map((link) => collect(link));
      const [first, second] = clients as [(typeof clients)[number], (typeof clients)[number]];
      for (let i = 0; i < 10; i++) {
        first.send(Buffer.from(`a${i}`));
        first.send(Buffer.from(`a${i}`));
        second.send(Buffer.from(`b${i}`));
      }
      await waitFor('every datagram', () => (received[0]?.length ?? 0) + (received[1]?.length ?? 0) === 30);
      const texts = received.map((list) => new Set(list.map((d) => d.toString()[0])));
      assert.deepEqual(texts.map((set) => set.size), [1, 1], 'no session got another peer\'s datagram');
      assert.notEqual([...(texts[0] ?? [])][0], [...(texts[1] ?? [])][0]);
    } finally {
      for (const client of clients) client.close();
      await hub.close();
    }
  });

  async function connectTo(identity: TestIdentity, options: { ca: string; serverName: string }) {
    const hub = await DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem: identity.certPem, keyPem: identity.keyPem });
    try {
      return await connectDtls({ host: '127.0.0.1', port: hub.address().port, handshakeTimeoutMs: 5_000, ...options });
    } finally {
      await hub.close();
    }
  }

  test('a hub certificate from another CA is refused; the hub learns it from the alert', async () => {
    const hub = await DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem: pki.ecdsa.certPem, keyPem: pki.ecdsa.keyPem });
    try {
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port: hub.address().port, serverName: TEST_SERVER_NAME, ca: pki.otherCaPem }),
        isHopError(ErrorCode.CertVerify, /not signed by a trusted CA/),
      );
      await waitFor('hub to drop the refused handshake', () => hub.stats().handshake_failures === 1);
      assert.equal(hub.stats().pending_handshakes, 0);
      assert.equal(hub.sessionCount, 0);
    } finally {
      await hub.close();
    }
  });

  test('right CA, wrong server name is refused', async () => {
    await assert.rejects(
      connectTo(pki.ecdsa, { ca: pki.caPem, serverName: 'other.test' }),
      isHopError(ErrorCode.CertVerify, /not valid for the name other\.test/),
    );
  });

  test('an expired hub certificate is refused', async () => {
    await assert.rejects(
      connectTo(pki.expired, { ca: pki.caPem, serverName: TEST_SERVER_NAME }),
      isHopError(ErrorCode.CertVerify, /expired/),
    );
  });

  test('without the intermediate the P-256 leaf does not verify (the hub sends the chain)', async () => {
    const leafOnly = { ...pki.ecdsa, certPem: pki.ecdsa.certPem.split(/(?<=-----END CERTIFICATE-----\n)/)[0] ?? '' };
    await assert.rejects(
      connectTo(leafOnly, { ca: pki.caPem, serverName: TEST_SERVER_NAME }),
      isHopError(ErrorCode.CertVerify, /not signed by a trusted CA/),
    );
  });

  test('no answer from the hub: Timeout', async () => {
    const silent = dgram.createSocket('udp4');
    silent.bind(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port: silent.address().port, serverName: TEST_SERVER_NAME, ca: pki.caPem, handshakeTimeoutMs: 300 }),
        isHopError(ErrorCode.Timeout, /timed out after 300 ms/),
      );
    } finally {
      silent.close();
    }
  });

  test('a key that does not match the certificate: BadConfig', async () => {
    await assert.rejects(
      DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem: pki.ecdsa.certPem, keyPem: pki.rsa.keyPem }),
      isHopError(ErrorCode.BadConfig, /does not match/),
    );
  });

  test('oversize sends are dropped and counted on both sides; the base and the largest probe size pass; the session lives on', async () => {
    const pair = await connectPair(pki, pki.ecdsa);
    try {
      const atHub = collect(pair.server);
      const atAgent = collect(pair.client);
      pair.client.send(Buffer.alloc(MAX_SEND_DATAGRAM_BYTES + 1));
      pair.server.send(Buffer.alloc(MAX_SEND_DATAGRAM_BYTES + 1));
      pair.client.send(Buffer.alloc(MAX_DATAGRAM_SIZE_BYTES, 1));
      pair.server.send(Buffer.alloc(MAX_DATAGRAM_SIZE_BYTES, 2));
      // The largest path MTU probe: one 16,420-byte UDP payload, which loopback carries.
      pair.client.send(Buffer.alloc(MAX_SEND_DATAGRAM_BYTES, 3));
      pair.server.send(Buffer.alloc(MAX_SEND_DATAGRAM_BYTES, 4));
      await waitFor('the base-size and largest datagrams', () => atHub.length === 2 && atAgent.length === 2);
      assert.deepEqual(atHub.map((d) => d.length).sort((a, b) => a - b), [MAX_DATAGRAM_SIZE_BYTES, MAX_SEND_DATAGRAM_BYTES]);
      assert.deepEqual(atAgent.map((d) => d.length).sort((a, b) => a - b), [MAX_DATAGRAM_SIZE_BYTES, MAX_SEND_DATAGRAM_BYTES]);
      assert.equal(pair.client.stats().oversize_dropped, 1);
      assert.equal(pair.hub.stats().oversize_dropped, 1);
    } finally {
      await pair.close();
    }
  });

  test("the peer's first application data frees the session's handshake state (RFC 5246 §7.4.9); records keep flowing both ways", async () => {
    const pair = await connectPair(pki, pki.ecdsa);
    try {
      // Until the agent sends, its final flight may still be retransmitted (RFC 6347 §4.2.4).
      assert.equal(pair.server.holdsHandshake, true, 'handshake kept before any application data');
      const atHub = collect(pair.server);
      const atAgent = collect(pair.client);
      pair.client.send(Buffer.from('first'));
      await waitFor('the first datagram at the hub', () => atHub.length === 1);
      assert.equal(pair.server.holdsHandshake, false, 'no handshake state once the agent sent application data');
      // The hub's record numbers continue from the handshake's own (a reused number is a replay the agent drops).
      for (let index = 0; index < 3; index += 1) pair.server.send(Buffer.from(`hub ${index}`));
      pair.client.send(Buffer.from('second'));
      await waitFor('three datagrams at the agent, two at the hub', () => atAgent.length === 3 && atHub.length === 2);
      assert.deepEqual(atAgent.map((datagram) => datagram.toString()), ['hub 0', 'hub 1', 'hub 2']);
    } finally {
      await pair.close();
    }
  });

  test('agent close sends close_notify: the hub link closes cleanly and frees the peer', async () => {
    const pair = await connectPair(pki, pki.ecdsa);
    try {
      const closed = new Promise<Error | undefined>((resolve) => pair.server.onClose(resolve));
      pair.client.close();
      assert.equal(await closed, undefined);
      assert.equal(pair.hub.sessionCount, 0);
      pair.server.send(Buffer.from('after close')); // never throws
    } finally {
      await pair.close();
    }
  });

  test('hub close sends close_notify: the agent link closes cleanly', async () => {
    const pair = await connectPair(pki, pki.rsa);
    try {
      const closed = new Promise<Error | undefined>((resolve) => pair.client.onClose(resolve));
      pair.server.close();
      assert.equal(await closed, undefined);
      assert.equal(pair.hub.sessionCount, 0);
      pair.client.send(Buffer.from('after close')); // never throws
    } finally {
      await pair.close();
    }
  });

  test('setCertificate: new handshakes get the new certificate, live sessions keep working', async () => {
    const pair = await connectPair(pki, pki.rsa);
    try {
      assert.match(pair.client.peerCertificate.subject, /CN=rsa-leaf/);
      pair.hub.setCertificate(pki.ecdsa.certPem, pki.ecdsa.keyPem);
      const session = once(pair.hub, 'session') as Promise<[DtlsServerLink]>;
      const second = await connectDtls({
        host: '127.0.0.1',
        port: pair.hub.address().port,
        serverName: TEST_SERVER_NAME,
        ca: pki.caPem,
      });
      await session;
      try {
        assert.match(second.peerCertificate.subject, /CN=ecdsa-leaf/);
        const atHub = collect(pair.server);
        pair.client.send(Buffer.from('old session'));
        await waitFor('datagram on the old session', () => atHub.length === 1);
        assert.equal(pair.hub.sessionCount, 2);
        assert.throws(() => pair.hub.setCertificate(pki.ecdsa.certPem, pki.rsa.keyPem), isHopError(ErrorCode.BadConfig, /does not match/));
      } finally {
        second.close();
      }
    } finally {
      await pair.close();
    }
  });
  test('a hub started without a certificate refuses handshakes, then serves once setCertificate gives one', async () => {
    const hub = await DtlsHubServer.listen({ host: '127.0.0.1', port: 0 });
    try {
      assert.equal(hub.hasCertificate, false);
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port: hub.address().port, serverName: TEST_SERVER_NAME, ca: pki.caPem, handshakeTimeoutMs: 1_500 }),
        (err: unknown) => err instanceof HopError,
      );
      assert.ok(hub.stats().handshakes_refused_no_certificate >= 1, 'the verified ClientHello was counted as refused');
      assert.equal(hub.stats().pending_handshakes, 0, 'nothing allocated for it');
      hub.setCertificate(pki.ecdsa.certPem, pki.ecdsa.keyPem);
      assert.equal(hub.hasCertificate, true);
      const client = await connectDtls({ host: '127.0.0.1', port: hub.address().port, serverName: TEST_SERVER_NAME, ca: pki.caPem });
      try {
        assert.match(client.peerCertificate.subject, /CN=ecdsa-leaf/);
      } finally {
        client.close();
      }
    } finally {
      await hub.close();
    }
    await assert.rejects(DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem: pki.ecdsa.certPem }), isHopError(ErrorCode.BadConfig, /both or neither/));
  });
});
