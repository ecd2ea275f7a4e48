// The local demo stack (see scripts/demo.sh). Uses the same harness as the e2e tests.
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, freeTcpPort } from '../libs/testkit/dist/src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, '.demo');
const DEMO_HOST = 'demo.localhost';

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
console.log('hopgate demo: starting redis-server, nats-server, https-ingress, 2 dtls-hubs, a demo service and an agent...');
const stack = await Stack.start({
  dir,
  hubs: 2,
  httpsPort,
  httpPort,
  hubEnv: { HOPGATE_AGENT_IDLE_TIMEOUT_MS: '15000', HOPGATE_SESSION_TTL_MS: '15000' },
});
const service = await startDemoService();
const servicePort = service.address().port;
const token = await stack.addClient('demo');
await stack.setRoute(DEMO_HOST, '/', 'demo/web');
await stack.startAgent({ clientId: 'demo', token, services: { web: `127.0.0.1:${servicePort}` }, extra: { idle_timeout_ms: 15000 } });

const ca = path.relative(process.cwd(), stack.ca.certFile);
console.log(`
HopGate demo is up. Try:

  curl --cacert ${ca} --resolve ${DEMO_HOST}:${httpsPort}:127.0.0.1 https://${DEMO_HOST}:${httpsPort}/

  curl -i --resolve ${DEMO_HOST}:${httpPort}:127.0.0.1 http://${DEMO_HOST}:${httpPort}/        (redirects to HTTPS)

Add your own service (an agent config is in ${path.relative(process.cwd(), dir)}/agent-1.json):
  HOPGATE_REDIS_URL=${stack.redis.url} node services/cli/dist/main.js route ls
  redis-cli -p ${stack.redis.port} HGETALL hopgate:route:${DEMO_HOST}

Redis ${stack.redis.url}   NATS ${stack.nats.url}   hubs (UDP) ${stack.hubs.map((h) => h.port).join(', ')}
Logs: ${path.relative(process.cwd(), stack.logDir)}/      Ctrl-C stops everything.
`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  console.log('\nhopgate demo: stopping...');
  service.close();
  await stack.stop();
  console.log('hopgate demo: stopped.');
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
