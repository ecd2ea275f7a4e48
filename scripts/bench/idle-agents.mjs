// A load process of the idle-sessions row (scripts/bench/idle-sessions.mjs): many TunnelAgents
// (the agent library, one DTLS session and one UDP socket each) in one Node process, each with
// its own client id and token. Usage: node idle-agents.mjs <plan.json>, where the plan is
// { server, caFile, serverName, service, agents: [{ clientId, token }] }.
// Prints one JSON line per progress step on stdout ({"online": n, "failed": n}) and one
// {"done": true, ...} line once every agent is online or gave up; then idles until SIGTERM.
import fs from 'node:fs';
import { TunnelAgent } from '@hopgate/agent';
import { parseAgentConfig } from '@hopgate/config';
import { createLogger } from '@hopgate/log';

/** Handshakes this process runs at once (each is mostly CPU: ECDHE and a certificate check). */
const HANDSHAKES_IN_FLIGHT = 16;
/** An agent not online this long after its start counts as failed, in ms. */
const ONLINE_TIMEOUT_MS = 60_000;
/** Progress line period, in ms. */
const PROGRESS_INTERVAL_MS = 2_000;
/** The agents' idle timeout, in ms: as the stack's hub is configured (keep-alives well inside it). */
const AGENT_IDLE_TIMEOUT_MS = 15_000;

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const logger = createLogger({ service: 'bench-idle-agents', level: 'error' });
const agents = [];
let online = 0;
let failed = 0;
const report = (extra = {}) => process.stdout.write(`${JSON.stringify({ online, failed, ...extra })}\n`);

function startOne({ clientId, token }) {
  const config = parseAgentConfig(
    {
      server: plan.server,
      client_id: clientId,
      instance_id: `${clientId}-bench`,
      token,
      services: { origin: plan.service },
      ca_file: plan.caFile,
      server_name: plan.serverName,
      idle_timeout_ms: AGENT_IDLE_TIMEOUT_MS,
      log_level: 'error',
    },
    {},
  );
  const agent = new TunnelAgent(config, logger.child({ client_id: clientId }));
  agents.push(agent);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      failed += 1;
      resolve();
    }, ONLINE_TIMEOUT_MS);
    agent.once('online', () => {
      clearTimeout(timer);
      online += 1;
      resolve();
    });
    agent.start();
  });
}

const progress = setInterval(() => report(), PROGRESS_INTERVAL_MS);
let next = 0;
async function worker() {
  while (next < plan.agents.length) await startOne(plan.agents[next++]);
}
await Promise.all(Array.from({ length: HANDSHAKES_IN_FLIGHT }, worker));
clearInterval(progress);
report({ done: true });
process.once('SIGTERM', () => {
  void Promise.all(agents.map((a) => a.stop())).then(() => process.exit(0));
});
setInterval(() => undefined, 1 << 30);
