// A load process of the idle-sessions row (scripts/bench/idle-sessions.mjs): many TunnelAgents
// (the agent library, one DTLS session and one UDP socket each) in one Node process, each with
// its own client id and token. Usage: node idle-agents.mjs <plan.json>, where the plan is
// { server, caFile, serverName, service, handshakesInFlight, openSeconds, logFile, agents: [{ clientId, token }] }
// (the agents' warnings and errors go to logFile).
// Prints one JSON line per progress step on stdout ({"online": n, "live": n, "failed": n}:
// agents that came online once, sessions up now, agents that never came online) and one
// {"done": true, ...} line once every agent is online or gave up, or opening stopped after
// MAX_FAILURES_IN_A_ROW or after openSeconds; then idles until SIGTERM.
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { TunnelAgent } from '@hopgate/agent';
import { parseAgentConfig } from '@hopgate/config';
import { createLogger } from '@hopgate/log';
import pino from 'pino';

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
/**
 * Handshakes this process runs at once. Each costs the hub tens of ms of CPU in one piece
 * (ECDHE, signatures): too many at once stall its event loop, the established sessions' RTT
 * grows to hundreds of ms and they time out together.
 */
const HANDSHAKES_IN_FLIGHT = plan.handshakesInFlight;
/** An agent not online this long after its start counts as failed, in ms. */
const ONLINE_TIMEOUT_MS = 20_000;
/** Agents in a row that fail to come online stop the opening: the hub has reached its limit here. */
const MAX_FAILURES_IN_A_ROW = Math.max(8, 2 * HANDSHAKES_IN_FLIGHT);
/** Progress line period, in ms. */
const PROGRESS_INTERVAL_MS = 2_000;
/** Resolution of this process's event-loop delay histogram, in ms. */
const LOOP_DELAY_RESOLUTION_MS = 20;
/** The agents' idle timeout, in ms: as the stack's hub is configured (keep-alives well inside it). */
const AGENT_IDLE_TIMEOUT_MS = 15_000;

const logger = createLogger({ service: 'bench-idle-agents', level: 'warn', destination: pino.destination({ dest: plan.logFile, sync: false }) });
const agents = [];
let online = 0;
let live = 0;
let failed = 0;
let failuresInARow = 0;
// This process's own event-loop delay: a stall here longer than the transport's dead-peer
// bound makes its agents give up on a hub that did answer (its ACKs wait in the sockets).
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
loopDelay.enable();
const report = (extra = {}) => process.stdout.write(`${JSON.stringify({ online, live, failed, loop_delay_max_ms: Math.round(loopDelay.max / 1e6), ...extra })}\n`);

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
      log_level: 'warn',
    },
    {},
  );
  const agent = new TunnelAgent(config, logger.child({ client_id: clientId }));
  agents.push(agent);
  return new Promise((resolve) => {
    let up = false;
    let isLive = false;
    const timer = setTimeout(() => {
      failed += 1;
      failuresInARow += 1;
      resolve();
    }, ONLINE_TIMEOUT_MS);
    agent.on('online', () => {
      if (!isLive) live += 1;
      isLive = true;
      if (up) return; // a reconnect
      up = true;
      clearTimeout(timer);
      online += 1;
      failuresInARow = 0;
      resolve();
    });
    // 'offline' also follows each failed reconnect attempt: count the loss of a session once.
    agent.on('offline', () => {
      if (isLive) live -= 1;
      isLive = false;
    });
    agent.start();
  });
}

const progress = setInterval(() => report(), PROGRESS_INTERVAL_MS);
const openUntil = Date.now() + plan.openSeconds * 1000;
let next = 0;
async function worker() {
  while (next < plan.agents.length && failuresInARow < MAX_FAILURES_IN_A_ROW && Date.now() < openUntil) await startOne(plan.agents[next++]);
}
await Promise.all(Array.from({ length: HANDSHAKES_IN_FLIGHT }, worker));
clearInterval(progress);
report({ done: true, stopped_early: next < plan.agents.length });
process.once('SIGTERM', () => {
  void Promise.all(agents.map((a) => a.stop())).then(() => process.exit(0));
});
setInterval(() => undefined, 1 << 30);
