import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { freeUdpPort, waitFor } from '@hopgate/testkit';
import { DtlsHubServer, connectDtls, type DtlsServerLink } from '../src/index.js';
import { makeTestPki, TEST_SERVER_NAME, type TestIdentity, type TestPki } from '../test-support/certs.js';
import { collect, TEST_TIMEOUT_MS } from '../test-support/fixtures.js';

const OPENSSL = '/usr/bin/openssl';

/** A running openssl process with its output collected. */
interface OpensslProcess {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  stop(): Promise<void>;
}

/** Runs openssl with unbuffered stdout (stdbuf), so status lines show up as they happen. */
function runOpenssl(args: string[]): OpensslProcess {
  const child = spawn('stdbuf', ['-o0', '-e0', OPENSSL, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('interop with OpenSSL DTLS 1.2', { timeout: TEST_TIMEOUT_MS }, () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => pki.cleanup());

  async function opensslClientAgainstHub(identity: TestIdentity, cipher: RegExp): Promise<void> {
    const hub = await DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem: identity.certPem, keyPem: identity.keyPem });
    const sessions: DtlsServerLink[] = [];
    const atHub: Buffer[][] = [];
    hub.on('session', (link) => {
      sessions.push(link);
      atHub.push(collect(link));
    });
    const client = runOpenssl([
      's_client', '-dtls1_2', '-connect', `127.0.0.1:${hub.address().port}`,
      '-CAfile', pki.caFile, '-verify_return_error', '-servername', TEST_SERVER_NAME,
    ]);
    try {
      await waitFor('s_client to verify the chain', () => client.output().includes('Verification: OK'));
      assert.match(client.output(), cipher);
      await waitFor('the hub session', () => sessions.length === 1);
      client.child.stdin.write('hello from openssl\n');
      await waitFor('data at the hub', () => atHub[0]?.length === 1);
      assert.equal(atHub[0]?.[0]?.toString(), 'hello from openssl\n');
      sessions[0]?.send(Buffer.from('hello from the hub\n'));
      await waitFor('data at s_client', () => client.output().includes('hello from the hub'));
      const closed = new Promise<Error | undefined>((resolve) => sessions[0]?.onClose(resolve));
      client.child.stdin.end(); // s_client sends close_notify and exits
      assert.equal(await closed, undefined);
      assert.equal(hub.sessionCount, 0);
    } finally {
      await client.stop();
      await hub.close();
    }
  }

  test('openssl s_client -> hub (P-256 chain): "Verification: OK" and application data both ways', async () => {
    await opensslClientAgainstHub(pki.ecdsa, /Cipher is ECDHE-ECDSA-AES128-GCM-SHA256/);
  });

  test('openssl s_client -> hub (RSA chain, fragmented Certificate): "Verification: OK" and data', async () => {
    await opensslClientAgainstHub(pki.rsa, /Cipher is ECDHE-RSA-AES128-GCM-SHA256/);
  });

  async function agentAgainstServer(identity: TestIdentity, cipher: RegExp): Promise<void> {
    const port = await freeUdpPort();
    const args = ['s_server', '-dtls1_2', '-accept', `127.0.0.1:${port}`, '-cert', identity.leafFile, '-key', identity.keyFile];
    if (identity.chainFile) args.push('-cert_chain', identity.chainFile);
    const server = runOpenssl(args);
    try {
      await waitFor('s_server to listen', () => server.output().includes('ACCEPT'));
      const link = await connectDtls({ host: '127.0.0.1', port, serverName: TEST_SERVER_NAME, ca: pki.caPem, handshakeTimeoutMs: 5_000 });
      try {
        const atAgent = collect(link);
        link.send(Buffer.from('ping from the agent\n'));
        await waitFor('data at s_server', () => server.output().includes('ping from the agent'));
        assert.match(server.output(), cipher);
        server.child.stdin.write('pong from openssl\n');
        await waitFor('data at the agent', () => atAgent.length === 1);
        assert.equal(atAgent[0]?.toString(), 'pong from openssl\n');
        link.close();
        await waitFor('s_server to see close_notify', () => server.output().includes('CONNECTION CLOSED'));
      } finally {
        link.close();
      }
    } finally {
      await server.stop();
    }
  }

  test('agent -> openssl s_server with a P-256 chain', async () => {
    await agentAgainstServer(pki.ecdsa, /CIPHER is ECDHE-ECDSA-AES128-GCM-SHA256/);
  });

  test('agent -> openssl s_server with an RSA-2048 chain', async () => {
    await agentAgainstServer(pki.rsa, /CIPHER is ECDHE-RSA-AES128-GCM-SHA256/);
  });
});
