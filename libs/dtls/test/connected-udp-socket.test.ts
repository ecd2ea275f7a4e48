import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { waitFor } from '@hopgate/testkit';
import { ConnectedUdpSocket, SEND_ERROR_CHECK_EVERY } from '../src/connected-udp-socket.js';

/** Datagrams of the run: far more than SEND_ERROR_CHECK_EVERY. */
const RUN_DATAGRAMS = 1_000;

test('a run of sends: only some carry the completion callback (no nextTick per datagram), the datagrams go out; a send after a pause carries it', async () => {
  const peer = dgram.createSocket('udp4');
  peer.bind(0, '127.0.0.1');
  await once(peer, 'listening');
  let arrived = 0;
  peer.on('message', () => arrived++);
  const socket = await ConnectedUdpSocket.open({ type: 'udp4', address: '127.0.0.1', port: peer.address().port, bufferBytes: 4 * 1024 * 1024 });
  const udp = (socket as unknown as { socket: dgram.Socket }).socket;
  const send = udp.send.bind(udp) as (...args: unknown[]) => void;
  let withCallback = 0;
  (udp as unknown as { send: (...args: unknown[]) => void }).send = (...args: unknown[]) => {
    if (typeof args[args.length - 1] === 'function') withCallback++;
    send(...args);
  };
  try {
    const datagram = Buffer.alloc(100);
    for (let i = 0; i < RUN_DATAGRAMS; i++) socket.sendDatagram(datagram);
    // One in SEND_ERROR_CHECK_EVERY, plus the first and any send the scheduler paused before.
    assert.ok(withCallback >= RUN_DATAGRAMS / SEND_ERROR_CHECK_EVERY, `${withCallback} sends with a callback`);
    assert.ok(withCallback < RUN_DATAGRAMS / 4, `${withCallback} of ${RUN_DATAGRAMS} sends with a callback`);
    // Loopback may drop some of a run this fast (the peer's receive buffer): some arrive.
    await waitFor('datagrams arrive', () => arrived > 0 || undefined);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const before = withCallback;
    socket.sendDatagram(datagram);
    assert.equal(withCallback, before + 1, 'the first send after a pause checks for an ICMP error');
  } finally {
    socket.close();
    peer.close();
  }
});
