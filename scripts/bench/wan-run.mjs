// One WAN run (scripts/bench/wan.mjs starts it inside namespace a, with wanem already linking
// the namespaces): the origin, the HopGate agent and the ssh client in namespace b; Redis,
// NATS, the ingress, the hub, sshd and nginx here. Prints one JSON line of figures.
// Env: BENCH_WAN_NS_B, BENCH_WAN_ADDR_A, BENCH_WAN_ADDR_B (from wan.mjs); BENCH_WAN_MIB,
// BENCH_WAN_GET_CONNECTIONS, BENCH_WAN_GET_DURATION_S, BENCH_TRANSFER_DEADLINE_S.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { Stack, HUB_SERVER_NAME, freeUdpPort, serviceMain, waitFor } from '../../libs/testkit/dist/src/index.js';
import { envNumber } from '../bench-env.mjs';
import { getLoad, download } from './measure.mjs';
import { startSshTunnel } from './ssh-tunnel.mjs';
import { startLogged, stopChild, CpuMeter, startBenchOrigin } from './processes.mjs';

const NS_B = process.env.BENCH_WAN_NS_B;
const ADDR_A = process.env.BENCH_WAN_ADDR_A;
const ADDR_B = process.env.BENCH_WAN_ADDR_B;
const IN_B = ['ip', 'netns', 'exec', NS_B];
/** Download size of each path, in MiB. */
const MIB_COUNT = envNumber('BENCH_WAN_MIB', 100);
/** Connections of the GET run (the c=32). */
const GET_CONNECTIONS = envNumber('BENCH_WAN_GET_CONNECTIONS', 32);
const GET_DURATION_S = envNumber('BENCH_WAN_GET_DURATION_S', 8);
const TRANSFER_DEADLINE_MS = envNumber('BENCH_TRANSFER_DEADLINE_S', 180) * 1000;
/** How long the agent in namespace b gets to come online, in ms. */
const AGENT_ONLINE_TIMEOUT_MS = 30_000;
const MIB = 1024 * 1024;
const HOST = 'wan.hopgate.test';
const SSH_HOST = 'ssh.hopgate.test';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-bench-wan-'));
const origin = await startBenchOrigin({ listen: '0.0.0.0', prefix: IN_B });
let stack;
let agent;
let ssh;
const dispatchers = [];
try {
  const hubPort = await freeUdpPort();
  stack = await Stack.start({
    dir,
    hubs: 1,
    dtlsPorts: [hubPort],
    logLevel: 'info',
    ingressLogLevel: 'warn',
    // The hub listens on namespace a's end of the link, where the agent in b dials it.
    hubEnv: { HOPGATE_DTLS_LISTEN: `${ADDR_A}:${hubPort}`, HOPGATE_AGENT_IDLE_TIMEOUT_MS: '15000', HOPGATE_SESSION_TTL_MS: '15000' },
    ingressEnv: { HOPGATE_RESPONSE_TIMEOUT_MS: String(TRANSFER_DEADLINE_MS) },
  });
  const token = await stack.addClient('wan');
  await stack.setRoute(HOST, '/', 'wan/origin');
  const configFile = path.join(dir, 'agent-wan.json');
  fs.writeFileSync(configFile, JSON.stringify({ server: `${ADDR_A}:${hubPort}`, client_id: 'wan', token, services: { origin: `127.0.0.1:${origin.port}` }, ca_file: stack.ca.certFile, server_name: HUB_SERVER_NAME, idle_timeout_ms: 15000 }));
  const agentLog = path.join(dir, 'agent-wan.log');
  agent = startLogged(process.execPath, [serviceMain('agent'), '--config', configFile], agentLog, { prefix: IN_B, env: { HOPGATE_LOG_LEVEL: 'info' } });
  await waitFor('agent online across the link', () => {
    if (agent.exitCode !== null) throw new Error(`agent exited: ${fs.readFileSync(agentLog, 'utf8').slice(-500)}`);
    return fs.readFileSync(agentLog, 'utf8').includes('online: session established');
  }, AGENT_ONLINE_TIMEOUT_MS);
  ssh = await startSshTunnel({ originHost: '127.0.0.1', originPort: origin.port, certFile: stack.ingressCert.certFile, keyFile: stack.ingressCert.keyFile, sshdHost: ADDR_A, clientPrefix: IN_B });

  const ca = fs.readFileSync(stack.ca.certFile, 'utf8');
  const newAgent = (options) => {
    const d = new Agent(options);
    dispatchers.push(d);
    return d;
  };
  const directBase = `http://${ADDR_B}:${origin.port}`;
  const hopgateBase = `https://127.0.0.1:${stack.httpsPort}`;
  const sshBase = `https://127.0.0.1:${ssh.httpsPort}`;
  const directDispatcher = newAgent();
  const digestOf = async (id) => (await request(`${directBase}/digest/${id}`, { dispatcher: directDispatcher })).body.json();
  const bytes = MIB_COUNT * MIB;
  const cpu = new CpuMeter({ agent: () => [agent.pid], hub: () => [stack.hubs[0].process.child.pid], ingress: () => [stack.ingress.child.pid] });

  const direct_download = await download(directBase, directDispatcher, {}, bytes, digestOf, TRANSFER_DEADLINE_MS);
  const ssh_download = await download(sshBase, newAgent({ connect: { ca, servername: SSH_HOST } }), { host: SSH_HOST }, bytes, digestOf, TRANSFER_DEADLINE_MS);
  cpu.start();
  const hopgate_download = await download(hopgateBase, newAgent({ connect: { ca, servername: HOST } }), { host: HOST }, bytes, digestOf, TRANSFER_DEADLINE_MS);
  const cpuMs = cpu.stop();
  const movedMib = hopgate_download.bytes / MIB;
  const ssh_get = await getLoad(`${sshBase}/1k`, { connections: GET_CONNECTIONS, seconds: GET_DURATION_S, headers: { host: SSH_HOST }, servername: SSH_HOST, ca });
  const hopgate_get = await getLoad(`${hopgateBase}/1k`, { connections: GET_CONNECTIONS, seconds: GET_DURATION_S, headers: { host: HOST }, servername: HOST, ca });
  const perMib = Object.fromEntries(Object.entries(cpuMs).map(([name, ms]) => [name, +(ms / movedMib).toFixed(2)]));
  process.stdout.write(`${JSON.stringify({ mib: MIB_COUNT, connections: GET_CONNECTIONS, direct_download, ssh_download, hopgate_download, hopgate_download_cpu_ms_per_mib: perMib, ssh_get, hopgate_get })}\n`);
} finally {
  await Promise.all(dispatchers.map((d) => d.close().catch(() => undefined)));
  await ssh?.stop();
  await stopChild(agent);
  await stack?.stop();
  await stopChild(origin.child);
  if (process.env.BENCH_KEEP_DIR) process.stderr.write(`wan-run logs kept in ${dir}\n`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
