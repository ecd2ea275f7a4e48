/**
 * One agent login from the test process, without an agent: DTLS to a hub, the control stream,
 * preface + hello, and the hub's answer. Much faster than an agent process, for tests that
 * need many attempts (throttling) or a client id the agent's config would refuse.
 */
import fs from 'node:fs';
import { connectDtls } from '@hopgate/dtls';
import { Connection } from '@hopgate/transport';
import { MessageStreamReader, encodeMessage, encodePreface, type WireMessage } from '@hopgate/wire';
import { HUB_SERVER_NAME, type Stack } from '@hopgate/testkit';

/** The whole login (handshake, hello, answer) must finish within this, in ms. */
export const LOGIN_TIMEOUT_MS = 10_000;

/**
 * Logs in to hub `hub` of `stack` as `clientId` with `token` and returns the hub's answer
 * (hello_ok or hello_reject); the connection is closed either way.
 */
export async function tryLogin(stack: Stack, clientId: string, token: string, hub = 0): Promise<WireMessage> {
  const node = stack.hubs[hub];
  if (!node) throw new Error(`no hub ${hub}`);
  const link = await connectDtls({ host: '127.0.0.1', port: node.port, serverName: HUB_SERVER_NAME, ca: fs.readFileSync(stack.ca.certFile, 'utf8') });
  const conn = new Connection(link, { role: 'client' });
  const timer = setTimeout(() => conn.close(1, 'login timed out'), LOGIN_TIMEOUT_MS);
  try {
    const control = conn.openStream();
    control.on('error', () => undefined);
    control.write(encodePreface());
    control.write(encodeMessage({ type: 'hello', client_id: clientId, token, agent_version: 'test', services: [] }));
    const reader = new MessageStreamReader(control);
    await reader.readPreface();
    return await reader.readMessage();
  } finally {
    clearTimeout(timer);
    conn.close(0, 'login test done');
  }
}

/**
 * Logs in the way an agent of wire version 1 did (JSON hello after a version-1 preface) and
 * returns every byte the hub sent back on the control stream until it closed it.
 */
export async function tryLegacyLogin(stack: Stack, clientId: string, token: string, hub = 0): Promise<Buffer> {
  const node = stack.hubs[hub];
  if (!node) throw new Error(`no hub ${hub}`);
  const link = await connectDtls({ host: '127.0.0.1', port: node.port, serverName: HUB_SERVER_NAME, ca: fs.readFileSync(stack.ca.certFile, 'utf8') });
  const conn = new Connection(link, { role: 'client' });
  const timer = setTimeout(() => conn.close(1, 'login timed out'), LOGIN_TIMEOUT_MS);
  try {
    const control = conn.openStream();
    control.on('error', () => undefined);
    const json = Buffer.from(JSON.stringify({ client_id: clientId, token, agent_version: '0.1.0', services: ['web'] }));
    const hello = Buffer.alloc(5);
    hello.writeUInt32BE(1 + json.length, 0);
    hello[4] = 1; // hello
    control.write(Buffer.concat([encodePreface(1), hello, json]));
    const chunks: Buffer[] = [];
    control.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => {
      control.once('end', () => resolve());
      control.once('close', () => resolve());
      conn.once('close', () => resolve());
    });
    return Buffer.concat(chunks);
  } finally {
    clearTimeout(timer);
    conn.close(0, 'login test done');
  }
}
