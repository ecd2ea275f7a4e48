import assert from 'node:assert/strict';
import { once } from 'node:events';
import { waitFor } from '@hopgate/testkit';
import {
  DtlsHubServer,
  connectDtls,
  type DtlsClientLink,
  type DtlsServerLink,
  type DtlsServerOptions,
} from '../src/index.js';
import { TEST_SERVER_NAME, type TestIdentity, type TestPki } from './certs.js';
import { UdpRelay } from './udp-relay.js';

/** Deadline of one test file's suite: a hang fails instead of blocking the run. */
export const TEST_TIMEOUT_MS = 60_000;

/** A hub, an agent session to it (optionally through a UdpRelay) and the hub's side of it. */
export interface LinkPair {
  hub: DtlsHubServer;
  client: DtlsClientLink;
  server: DtlsServerLink;
  relay: UdpRelay | undefined;
  close(): Promise<void>;
}

export async function connectPair(
  pki: TestPki,
  identity: TestIdentity,
  options: { relay?: boolean; onRelay?: (relay: UdpRelay) => void; hub?: Partial<DtlsServerOptions> } = {},
): Promise<LinkPair> {
  const hub = await DtlsHubServer.listen({
    host: '127.0.0.1',
    port: 0,
    certPem: identity.certPem,
    keyPem: identity.keyPem,
    ...options.hub,
  });
  const relay = options.relay ? await UdpRelay.start({ host: '127.0.0.1', port: hub.address().port }) : undefined;
  if (relay) options.onRelay?.(relay);
  const session = once(hub, 'session') as Promise<[DtlsServerLink]>;
  let client: DtlsClientLink;
  try {
    client = await connectDtls({
      host: '127.0.0.1',
      port: relay ? relay.port : hub.address().port,
      serverName: TEST_SERVER_NAME,
      ca: pki.caPem,
      handshakeTimeoutMs: 5_000,
    });
  } catch (err) {
    await hub.close();
    await relay?.close();
    throw err;
  }
  const [server] = await session;
  return {
    hub,
    client,
    server,
    relay,
    close: async () => {
      client.close();
      await hub.close();
      await relay?.close();
    },
  };
}

/** Collects the datagrams a link receives, as Buffers. */
export function collect(link: { onDatagram(handler: (datagram: Uint8Array) => void): void }): Buffer[] {
  const received: Buffer[] = [];
  link.onDatagram((datagram) => received.push(Buffer.from(datagram)));
  return received;
}

/** A datagram that carries its index in the first 4 bytes. */
export function numbered(index: number, size = 32): Buffer {
  const datagram = Buffer.alloc(size, index & 0xff);
  datagram.writeUInt32BE(index, 0);
  return datagram;
}

/** Sends `count` numbered datagrams, at most `window` ahead of what `received` shows. */
export async function sendPaced(
  send: (datagram: Buffer) => void,
  received: () => number,
  count: number,
  make: (index: number) => Buffer = (index) => numbered(index),
  window = 64,
): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    if (index - received() >= window) {
      await waitFor(`peer to receive up to ${index - window}`, () => index - received() < window, 5_000, 1);
    }
    send(make(index));
  }
}

/** An agent session to `hub` from 127.0.0.1, with the hub's side of it. */
export async function connectAgent(pki: TestPki, hub: DtlsHubServer, handshakeTimeoutMs = 5_000): Promise<{ client: DtlsClientLink; server: DtlsServerLink }> {
  const session = once(hub, 'session') as Promise<[DtlsServerLink]>;
  const client = await connectDtls({ host: '127.0.0.1', port: hub.address().port, serverName: TEST_SERVER_NAME, ca: pki.caPem, handshakeTimeoutMs });
  const [server] = await session;
  return { client, server };
}

/** One numbered datagram each way between an agent and the hub's side of its session. */
export async function exchange(client: DtlsClientLink, server: DtlsServerLink, label: number): Promise<void> {
  const atHub = collect(server);
  const atAgent = collect(client);
  client.send(numbered(label));
  server.send(numbered(label));
  await waitFor(`datagram ${label} both ways`, () => atHub.length === 1 && atAgent.length === 1);
  assert.equal(atHub[0]?.readUInt32BE(0), label);
  assert.equal(atAgent[0]?.readUInt32BE(0), label);
}

