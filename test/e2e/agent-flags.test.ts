/**
 * The agent the way ngrok users run it: `hopgate-agent` (the npm bin) with flags alone, no
 * config file, against the process stack; and the demo's HTTPS for a route host added by
 * hand (`myapp.demo.localhost`), fetched with the exact curl command the demo prints.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Stack, AGENT_BIN, DEMO_DOMAIN, DEMO_INGRESS_NAMES } from '@hopgate/testkit';
import { startOrigin, type Origin } from './helpers.js';

const run = promisify(execFile);

/** A host a new demo user adds: one label under the demo's domain. */
const NEW_HOST = `myapp.${DEMO_DOMAIN}`;
/** curl's whole budget for one request, in seconds. */
const CURL_MAX_TIME_S = 20;
const TEST_TIMEOUT_MS = 60_000;

let dir: string;
let stack: Stack;
let origin: Origin;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-agent-flags-'));
  stack = await Stack.start({ dir, hubs: 2, ingressNames: [...DEMO_INGRESS_NAMES] });
  origin = await startOrigin('my own service');
});

after(async () => {
  await stack?.stop();
  await origin?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('the demo certificate covers a new host one label under the demo domain, and not a name beyond it', () => {
  const cert = new crypto.X509Certificate(fs.readFileSync(stack.ingressCert.certFile));
  assert.equal(cert.checkHost(NEW_HOST), `*.${DEMO_DOMAIN}`, 'matched by the wildcard');
  assert.equal(cert.checkHost(DEMO_DOMAIN), DEMO_DOMAIN);
  assert.equal(cert.checkHost(`a.b.${DEMO_DOMAIN}`), undefined, 'a wildcard covers one label');
  assert.match(cert.subjectAltName ?? '', new RegExp(`DNS:\\*\\.${DEMO_DOMAIN.replace('.', '\\.')}`));
});

test('hopgate-agent with flags only (no file) serves a new route over HTTPS, fetched with curl --cacert --resolve', { timeout: TEST_TIMEOUT_MS }, async () => {
  const token = await stack.addClient('laptop');
  await stack.setRoute(NEW_HOST, '/', 'laptop/web');
  await stack.startAgent({ clientId: 'laptop', token, services: { web: `127.0.0.1:${origin.port}` }, launch: 'flags' });
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('agent-')), ['agent-1.token'], 'no config file: flags and a token file');
  const { stdout } = await run('curl', [
    '-sS', '--fail', '--max-time', String(CURL_MAX_TIME_S),
    '--cacert', stack.ca.certFile,
    '--resolve', `${NEW_HOST}:${stack.httpsPort}:127.0.0.1`,
    `https://${NEW_HOST}:${stack.httpsPort}/hello`,
  ]);
  assert.equal(stdout, 'hello from my own service\n');
  assert.equal(origin.seen.at(-1)?.headers.host, `${NEW_HOST}:${stack.httpsPort}`);
});

test('hopgate-agent: --help exits 0 with usage; an unknown flag exits 2 and names it', async () => {
  const help = await run(process.execPath, [AGENT_BIN, '--help']);
  assert.match(help.stdout, /^Usage: hopgate-agent --server HOST:PORT --client-id ID --token-file FILE --service NAME=HOST:PORT/);
  const bad = await run(process.execPath, [AGENT_BIN, '--server', 'hub.example.com:443', '--servce', 'web=127.0.0.1:8080']).then(
    () => assert.fail('an unknown flag must not start the agent'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'hopgate-agent: unknown flag --servce\nRun "hopgate-agent --help" for usage.\n');
});
