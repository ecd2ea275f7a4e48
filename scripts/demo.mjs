// The local demo stack (see scripts/demo.sh). Uses the same harness as the e2e tests.
//   npm run demo              certificates from a local dev CA (files)
//   npm run demo -- --acme    certificates issued by a local ACME CA (Pebble) through the
//                             cert-manager: HTTP-01 answered by the ingress, the hub's DTLS
//                             certificate for hub.hopgate.test, everything served from Redis
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, freeTcpPort, startPebble, waitFor, HUB_SERVER_NAME, DEMO_DOMAIN, DEMO_INGRESS_NAMES } from '../libs/testkit/dist/src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, '.demo');
const DEMO_HOST = DEMO_DOMAIN;
/** The host the hint suggests for the user's own service: covered by the demo certificate's *.demo.localhost. */
const OWN_HOST = `myapp.${DEMO_DOMAIN}`;
/** The port the hint assumes the user's own service listens on. */
const OWN_SERVICE_PORT = 3000;
const ACME = process.argv.includes('--acme');
/** How long the demo waits for Pebble to issue a certificate, in ms. */
const ISSUE_TIMEOUT_MS = 60_000;

async function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function preferred(port) {
  return (await portFree(port)) ? port : freeTcpPort();
}

function startDemoService() {
  const server = http.createServer((req, res) => {
    if (req.method === 'POST') {
      let n = 0;
      req.on('data', (c) => (n += c.length));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`received ${n} bytes\n`);
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(
      [
        'Hello from the HopGate demo service on 127.0.0.1!',
        `You asked for ${req.method} ${req.url}`,
        `Host: ${req.headers.host}`,
        `X-Forwarded-For: ${req.headers['x-forwarded-for']}`,
        `X-Forwarded-Proto: ${req.headers['x-forwarded-proto']}`,
        '',
      ].join('\n'),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const httpsPort = await preferred(8443);
const httpPort = await preferred(8080);
console.log(`hopgate demo: starting redis-server, nats-server, https-ingress, 2 dtls-hubs, a demo service and an agent${ACME ? ', pebble (ACME CA) and the cert-manager' : ''}...`);
const stack = await Stack.start({
  dir,
  hubs: 2,
  // *.demo.localhost: a route added for myapp.demo.localhost works over HTTPS with curl (a bare *.localhost does not).
  ingressNames: [...DEMO_INGRESS_NAMES],
  httpsPort,
  httpPort,
  // Clients, routes, certificates and the ACME account must survive a Redis restart (docs/operations.md): AOF in .demo/redis-data.
  redisPersistent: true,
  hubEnv: {
    HOPGATE_AGENT_IDLE_TIMEOUT_MS: '15000',
    HOPGATE_SESSION_TTL_MS: '15000',
    ...(ACME ? { HOPGATE_HUB_NAME: HUB_SERVER_NAME, HOPGATE_CERT_REREAD_INTERVAL_MS: '5000' } : {}),
  },
  ...(ACME ? { ingressFileCert: false, hubFileCert: false } : {}),
});
let pebble;
let trustFile = stack.ca.certFile;
if (ACME) {
  // Pebble validates HTTP-01 on the ingress's HTTP port; its fake DNS resolves every name to 127.0.0.1.
  pebble = await startPebble({ dir: path.join(dir, 'pebble'), httpPort, tlsPort: httpsPort });
  await stack.startCertManager({
    HOPGATE_ACME_DIRECTORY: pebble.directoryUrl,
    HOPGATE_ACME_CA_FILE: pebble.caFile,
    HOPGATE_ACME_EMAIL: 'demo@hopgate.test',
    HOPGATE_HUB_NAME: HUB_SERVER_NAME,
    HOPGATE_ACME_POLL_MIN_MS: '200',
    HOPGATE_ACME_CACHE_DIR: path.join(dir, 'acme-cache'),
  });
  trustFile = path.join(dir, 'pebble-root.pem');
  fs.writeFileSync(trustFile, await pebble.rootPem());
}
const service = await startDemoService();
const servicePort = service.address().port;
const token = await stack.addClient('demo');
await stack.setRoute(DEMO_HOST, '/', 'demo/web');
if (ACME) {
  console.log(`hopgate demo: waiting for pebble to issue certificates for ${HUB_SERVER_NAME} and ${DEMO_HOST}...`);
  for (const name of [HUB_SERVER_NAME, DEMO_HOST]) {
    await waitFor(`certificate for ${name}`, async () => {
      const res = await stack.cli(['cert', 'ls']);
      return res.stdout.split('\n').some((line) => line.startsWith(`${name} `) && /\bvalid\b/.test(line)) || undefined;
    }, ISSUE_TIMEOUT_MS, 250);
  }
}
await stack.startAgent({
  clientId: 'demo',
  token,
  services: { web: `127.0.0.1:${servicePort}` },
  extra: { idle_timeout_ms: 15000 },
  ...(ACME ? { caFile: trustFile } : {}),
});

const ca = path.relative(process.cwd(), trustFile);
const demoDir = path.relative(process.cwd(), dir);
const servers = stack.hubs.map((h) => `127.0.0.1:${h.port}`).join(',');
console.log(`
HopGate demo is up. Try:

  curl --cacert ${ca} --resolve ${DEMO_HOST}:${httpsPort}:127.0.0.1 https://${DEMO_HOST}:${httpsPort}/

  curl -i --resolve ${DEMO_HOST}:${httpPort}:127.0.0.1 http://${DEMO_HOST}:${httpPort}/        (redirects to HTTPS)

Add your own service (say it listens on 127.0.0.1:${OWN_SERVICE_PORT}) as https://${OWN_HOST}:${httpsPort}/, in another shell:

  export HOPGATE_REDIS_URL=${stack.redis.url}
  npx hopgate client add me > ${demoDir}/me.token
  npx hopgate route set ${OWN_HOST} / me/web
  npx hopgate-agent --server ${servers} --server-name ${HUB_SERVER_NAME} --ca-file ${ca} \\
      --client-id me --token-file ${demoDir}/me.token --service web=127.0.0.1:${OWN_SERVICE_PORT}

  curl --cacert ${ca} --resolve ${OWN_HOST}:${httpsPort}:127.0.0.1 https://${OWN_HOST}:${httpsPort}/

  Any name under ${DEMO_DOMAIN} works the same way${ACME ? ' (pebble issues its certificate within seconds of the route)' : ` (the certificate covers *.${DEMO_DOMAIN})`}.
  npx hopgate route ls
  redis-cli -p ${stack.redis.port} HGETALL hopgate:route:${DEMO_HOST}

${ACME ? `Certificates were issued by pebble (ACME) and are served from Redis; its root is ${ca}:
  npx hopgate cert ls
  openssl s_client -connect 127.0.0.1:${httpsPort} -servername ${DEMO_HOST} -CAfile ${ca} </dev/null | grep -E 'subject=|issuer=|Verify return'

` : ''}Redis ${stack.redis.url} (data kept in ${path.relative(process.cwd(), path.join(dir, 'redis-data'))}, appendonly)   NATS ${stack.nats.url}   hubs (UDP) ${stack.hubs.map((h) => h.port).join(', ')}
Logs: ${path.relative(process.cwd(), stack.logDir)}/      Ctrl-C stops everything.
`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  console.log('\nhopgate demo: stopping...');
  service.close();
  await stack.stop();
  await pebble?.stop();
  console.log('hopgate demo: stopped.');
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
