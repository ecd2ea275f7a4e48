/**
 * The product as containers (issue 11): a real Docker engine, the four images built from
 * deploy/Dockerfile, and docker-compose.yml brought up under a project name of its own with every
 * port published on a free 127.0.0.1 port. Through it: HTTPS GET via both ingresses -> NATS -> hub
 * -> DTLS over the compose network's UDP -> agent container -> origin container; a 50 MiB download
 * checked by SHA-256; a WebSocket echo; /healthz and /readyz on every service's ops port; the
 * containers run as uid 10001 on a read-only root fs; `docker-compose down -v` leaves no container,
 * network or volume of the project. /metrics of every service answers, the ingresses' request
 * counter moves with the requests and the hubs' session gauge counts the agent.
 *
 * Needs root (or sudo) for apt and dockerd on a fresh machine: scripts/docker-standins.sh installs
 * docker.io, docker-compose and debootstrap, starts dockerd and builds the base images locally.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { waitFor } from '@hopgate/testkit';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const PROJECT = `hgtest${crypto.randomBytes(3).toString('hex')}`;
const HOST = 'app.hopgate.test';
const CA_FILE = path.join(ROOT, '.compose-certs/ca.pem');
/** The build context's copy of this machine's CA bundle (git-ignored; for TLS-intercepting proxies). */
const BUILD_CA_NAME = '.build-ca.pem';
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const IMAGES = [
  { target: 'ingress', image: `hopgate/ingress:${VERSION}` },
  { target: 'hub', image: `hopgate/hub:${VERSION}` },
  { target: 'cert-manager', image: `hopgate/cert-manager:${VERSION}` },
  { target: 'agent', image: `hopgate/agent:${VERSION}` },
];
/** Services with an ops port (9090) in docker-compose.yml. */
const OPS_SERVICES = ['cert-manager', 'ingress-1', 'ingress-2', 'hub-1', 'hub-2', 'agent'];
/** Size of the download checked end to end: 50 MiB. */
const DOWNLOAD_BYTES = 50 * 1024 * 1024;
/** Chunk size of the demo origin's /bytes pattern (deploy/compose/demo-origin.mjs). */
const PATTERN_CHUNK_BYTES = 64 * 1024;
/** Engine start, package installs and the base image stand-ins on a fresh machine, in ms. */
const STANDINS_TIMEOUT_MS = 600_000;
/** One image build (npm ci from the registry on a cold cache), in ms. */
const BUILD_TIMEOUT_MS = 900_000;
/** `docker-compose up -d` / `down -v`, in ms. */
const COMPOSE_TIMEOUT_MS = 180_000;
/** The stack serving through the agent after `up`, in ms. */
const STACK_READY_TIMEOUT_MS = 90_000;
/** One HTTP(S) request of the test, the 50 MiB download included, in ms. */
const REQUEST_TIMEOUT_MS = 120_000;

interface Run { stdout: string; stderr: string }

function run(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-4000)}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** Every published port on a free 127.0.0.1 port (empty host ports in docker-compose.yml). */
const COMPOSE_ENV: NodeJS.ProcessEnv = {
  HOPGATE_BIND: '127.0.0.1',
  HOPGATE_VERSION: VERSION,
  HOPGATE_HTTPS_PORT: '',
  HOPGATE_HTTP_PORT: '',
  HOPGATE_HTTPS_PORT_2: '',
  HOPGATE_DTLS_PORT: '',
  HOPGATE_DTLS_PORT_2: '',
};

function compose(args: string[], timeoutMs = COMPOSE_TIMEOUT_MS): Promise<Run> {
  return run('docker-compose', ['-p', PROJECT, '-f', 'docker-compose.yml', ...args], timeoutMs, COMPOSE_ENV);
}

async function hostPort(service: string, port: string): Promise<number> {
  const { stdout } = await compose(['port', service, port]);
  const value = Number(stdout.trim().split(':').pop());
  assert.ok(value > 0, `published port of ${service} ${port}: ${stdout}`);
  return value;
}

function log(line: string): void {
  process.stdout.write(`# containers: ${line}\n`);
}

function httpGet(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

/** HTTPS GET of https://app.hopgate.test<urlPath> on 127.0.0.1:port; the body's length and SHA-256. */
function httpsGet(port: number, urlPath: string): Promise<{ status: number; bytes: number; sha256: string; text: string }> {
  const ca = fs.readFileSync(CA_FILE);
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: urlPath, servername: HOST, headers: { host: HOST }, ca, agent: false, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const hash = crypto.createHash('sha256');
        let bytes = 0;
        const head: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          hash.update(c);
          if (bytes < 4096) head.push(c);
          bytes += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex'), text: Buffer.concat(head).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

/** SHA-256 of the demo origin's /bytes/<n> answer, built the same way as the origin builds it. */
function expectedPatternSha256(total: number): string {
  const hash = crypto.createHash('sha256');
  for (let sent = 0, k = 0; sent < total; k++) {
    const seed = crypto.createHash('sha256').update(`hopgate-${k}`).digest();
    const chunk = Buffer.alloc(PATTERN_CHUNK_BYTES, seed).subarray(0, Math.min(PATTERN_CHUNK_BYTES, total - sent));
    hash.update(chunk);
    sent += chunk.length;
  }
  return hash.digest('hex');
}

/** The sum of a counter's samples in a Prometheus text exposition (0 when absent). */
function counterSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function scrapeIngressRequests(opsPorts: Map<string, number>): Promise<number | undefined> {
  let total = 0;
  for (const service of ['ingress-1', 'ingress-2']) {
    const res = await httpGet(opsPorts.get(service)!, '/metrics');
    if (res.status !== 200) return undefined;
    total += counterSum(res.body, 'hopgate_ingress_requests_total');
  }
  return total;
}

let up = false;
const opsPorts = new Map<string, number>();
let httpsPorts: number[] = [];
let buildCaWritten = false;
/** Each image's size in bytes (docker image inspect), by build target. */
const imageBytes = new Map<string, number>();

before(async () => {
  let t = performance.now();
  await run('bash', ['scripts/docker-standins.sh'], STANDINS_TIMEOUT_MS);
  log(`scripts/docker-standins.sh: ${Math.round(performance.now() - t)} ms`);
  await run('bash', ['scripts/compose-certs.sh'], COMPOSE_TIMEOUT_MS);
  const buildArgs: string[] = [];
  if (fs.existsSync(SYSTEM_CA_BUNDLE) && !fs.existsSync(path.join(ROOT, BUILD_CA_NAME))) {
    fs.copyFileSync(SYSTEM_CA_BUNDLE, path.join(ROOT, BUILD_CA_NAME));
    buildCaWritten = true;
  }
  if (fs.existsSync(path.join(ROOT, BUILD_CA_NAME))) buildArgs.push('--build-arg', `EXTRA_CA_FILE=${BUILD_CA_NAME}`);
  try {
    for (const { target, image } of IMAGES) {
      t = performance.now();
      await run('docker', ['build', '-q', '-f', 'deploy/Dockerfile', ...buildArgs, '--build-arg', `VERSION=${VERSION}`, '--target', target, '-t', image, '.'], BUILD_TIMEOUT_MS);
      log(`docker build --target ${target}: ${Math.round(performance.now() - t)} ms`);
    }
  } finally {
    if (buildCaWritten) fs.rmSync(path.join(ROOT, BUILD_CA_NAME), { force: true });
  }
  const sizes = await run('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}} {{.Size}}', 'hopgate/*'], COMPOSE_TIMEOUT_MS);
  log(`image sizes: ${sizes.stdout.trim().split('\n').join(', ')}`);
  // Exact bytes, not docker's rounded sizes (the closing notes quote them).
  const bytes: string[] = [];
  for (const { target, image } of IMAGES) {
    const size = Number((await run('docker', ['image', 'inspect', '--format', '{{.Size}}', image], COMPOSE_TIMEOUT_MS)).stdout.trim());
    imageBytes.set(target, size);
    bytes.push(`${image} ${size} B`);
  }
  log(`image sizes in bytes: ${bytes.join(', ')}`);
  t = performance.now();
  up = true;
  await compose(['up', '-d']);
  log(`docker-compose up -d: ${Math.round(performance.now() - t)} ms`);
  for (const service of OPS_SERVICES) opsPorts.set(service, await hostPort(service, '9090'));
  httpsPorts = [await hostPort('ingress-1', '8443'), await hostPort('ingress-2', '8443')];
  await waitFor('the agent online (its /readyz 200)', async () => (await httpGet(opsPorts.get('agent')!, '/readyz')).status === 200, STACK_READY_TIMEOUT_MS, 250);
  log(`stack serving ${Math.round(performance.now() - t)} ms after up`);
});

after(async () => {
  if (!up) return;
  const { stdout } = await compose(['logs', '--no-color', '--tail=20']).catch(() => ({ stdout: '' }));
  if (process.env.HOPGATE_TEST_VERBOSE) process.stdout.write(stdout);
  await compose(['down', '-v', '--remove-orphans']);
});

test('HTTPS through each ingress, hub, agent container and origin container; /metrics of every service, the request counter moved', async () => {
  const requestsBefore = await scrapeIngressRequests(opsPorts);
  for (const port of httpsPorts) {
    const res = await waitFor(
      `HTTPS GET through the ingress on ${port}`,
      async () => {
        const r = await httpsGet(port, '/hello');
        return r.status === 200 ? r : undefined;
      },
      STACK_READY_TIMEOUT_MS,
      250,
    );
    assert.match(res.text, /^Hello from the HopGate demo origin!\nYou asked for GET \/hello\n/);
    assert.match(res.text, new RegExp(`Host: ${HOST.replace(/\./g, '\\.')}`));
  }
  // The agent's session is held by a hub, reached over the compose network's UDP.
  const sessions = await compose(['exec', '-T', 'ingress-1', 'hopgate', 'session', 'ls']);
  assert.match(sessions.stdout, /\bdemo\b.*\bhub-[12]\b/);
  assert.notEqual(requestsBefore, undefined, 'the ingresses serve /metrics on their ops port');
  const afterScrape = await scrapeIngressRequests(opsPorts);
  assert.ok(afterScrape !== undefined && afterScrape >= requestsBefore! + httpsPorts.length, `hopgate_ingress_requests_total moved from ${requestsBefore} to ${afterScrape}`);
  // Every service answers /metrics; the hubs' session gauges count the one agent.
  let sessions_ = 0;
  for (const service of OPS_SERVICES) {
    const res = await httpGet(opsPorts.get(service)!, '/metrics');
    assert.equal(res.status, 200, `${service} serves /metrics`);
    assert.match(res.body, /^# HELP /m, `${service}: Prometheus text`);
    if (service.startsWith('hub-')) sessions_ += counterSum(res.body, 'hopgate_hub_agent_sessions');
  }
  assert.equal(sessions_, 1, 'hopgate_hub_agent_sessions over both hubs');
});

test('a 50 MiB download arrives whole (SHA-256)', async () => {
  const t = performance.now();
  const res = await httpsGet(httpsPorts[0]!, `/bytes/${DOWNLOAD_BYTES}`);
  const ms = performance.now() - t;
  assert.equal(res.status, 200);
  assert.equal(res.bytes, DOWNLOAD_BYTES);
  assert.equal(res.sha256, expectedPatternSha256(DOWNLOAD_BYTES));
  log(`50 MiB download: ${Math.round(ms)} ms (${(DOWNLOAD_BYTES / 1024 / 1024 / (ms / 1000)).toFixed(1)} MiB/s)`);
});

test('a WebSocket echo through the tunnel', async () => {
  const ws = new WebSocket(`wss://${HOST}:${httpsPorts[1]}/ws`, {
    ca: fs.readFileSync(CA_FILE),
    servername: HOST,
    // app.hopgate.test is the published port on this machine's loopback.
    lookup: (_host: string, opts: { all?: boolean }, cb: (err: Error | null, address: unknown, family?: number) => void) =>
      opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4),
  } as WebSocket.ClientOptions);
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      ws.on('message', (data) => {
        messages.push(String(data));
        if (messages.length === 2) resolve();
      });
      ws.send('hello through hopgate');
      ws.send('x'.repeat(70_000));
    });
  });
  ws.close();
  assert.deepEqual(messages, ['hello through hopgate', 'x'.repeat(70_000)]);
});

test('every service answers /healthz and /readyz on its ops port; non-root, read-only root fs', async () => {
  for (const service of OPS_SERVICES) {
    const port = opsPorts.get(service)!;
    const health = await httpGet(port, '/healthz');
    assert.equal(health.status, 200, `${service} /healthz: ${health.body}`);
    const ready = await waitFor(`${service} /readyz 200`, async () => {
      const r = await httpGet(port, '/readyz');
      return r.status === 200 ? r : undefined;
    }, STACK_READY_TIMEOUT_MS, 250);
    assert.match(ready.body, /"ready":true/);
  }
  const ids = (await compose(['ps', '-q', ...OPS_SERVICES])).stdout.trim().split('\n');
  assert.equal(ids.length, OPS_SERVICES.length);
  const inspect = await run('docker', ['inspect', '--format', '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.State.Health.Status}}', ...ids], COMPOSE_TIMEOUT_MS);
  for (const line of inspect.stdout.trim().split('\n')) assert.match(line, /^10001:10001 true (healthy|starting)$/);
  // Nothing of the image is writable: a write outside /tmp and the volume fails.
  await assert.rejects(compose(['exec', '-T', 'ingress-1', 'sh', '-c', 'touch /app/x']), /Read-only file system/);
});

test('the hub and agent images protect DTLS records with the AES-GCM addon built in the image (record_crypto native)', async () => {
  // The hubs log it when they listen, the agent when it starts (libs/dtls/src/native-aes-gcm.ts).
  for (const [service, message] of [['hub-1', 'dtls-hub listening'], ['hub-2', 'dtls-hub listening'], ['agent', 'agent starting']] as const) {
    const { stdout } = await compose(['logs', '--no-color', service]);
    const line = stdout.split('\n').find((l) => l.includes(`"msg":"${message}"`));
    assert.ok(line, `${service} logged "${message}"`);
    assert.match(line, /"record_crypto":"native"/, `${service}: ${line}`);
  }
});

test('the agent image is the smallest, and its bundled agent and hopgate CLI run in it', async () => {
  const agent = imageBytes.get('agent')!;
  for (const [target, size] of imageBytes) {
    if (target !== 'agent') assert.ok(agent < size, `agent image ${agent} B is not smaller than the ${target} image ${size} B`);
  }
  const image = IMAGES.find((i) => i.target === 'agent')!.image;
  const help = await run('docker', ['run', '--rm', '--read-only', image, '--help'], COMPOSE_TIMEOUT_MS);
  assert.match(help.stdout + help.stderr, /Usage: hopgate-agent --server HOST:PORT/);
  const cli = await run('docker', ['run', '--rm', '--read-only', '--entrypoint', 'hopgate', image, '--help'], COMPOSE_TIMEOUT_MS);
  assert.match(cli.stdout + cli.stderr, /Usage: hopgate <command>/);
  const licenses = await run('docker', ['run', '--rm', '--entrypoint', 'cat', image, '/app/licenses/PACKAGES.txt'], COMPOSE_TIMEOUT_MS);
  assert.match(licenses.stdout, /^undici@\S+ MIT$/m, 'the bundled packages and their licenses are listed');
});

test('docker-compose down -v leaves no container, network or volume of the project', async () => {
  const t = performance.now();
  await compose(['down', '-v', '--remove-orphans']);
  up = false;
  log(`docker-compose down -v: ${Math.round(performance.now() - t)} ms`);
  const filter = ['--filter', `label=com.docker.compose.project=${PROJECT}`, '-q'];
  assert.equal((await run('docker', ['ps', '-a', ...filter], COMPOSE_TIMEOUT_MS)).stdout.trim(), '');
  assert.equal((await run('docker', ['network', 'ls', ...filter], COMPOSE_TIMEOUT_MS)).stdout.trim(), '');
  assert.equal((await run('docker', ['volume', 'ls', ...filter], COMPOSE_TIMEOUT_MS)).stdout.trim(), '');
});
