#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadAgentConfig, formatHostPort } from '@hopgate/config';
import { createLogger } from '@hopgate/log';
import { errorMessageOf } from '@hopgate/errors';
import { installCrashHandlers, LoopMonitor, OpsServer, START_FAILED_EXIT_CODE, addMetricsRoute, addProbeRoutes, notReady, READY } from '@hopgate/runtime';
import { createMetricsRegistry } from '@hopgate/metrics';
import { TunnelAgent } from './agent.js';

/** Exit code when another agent with the same client_id took over the session. */
export const EXIT_REPLACED = 3;

const USAGE = 'usage: node services/agent/dist/main.js --config agent.yaml';

function main(): void {
  let configFile: string | undefined;
  try {
    const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    configFile = values.config;
  } catch (err) {
    process.stderr.write(`${errorMessageOf(err)}\n${USAGE}\n`);
    process.exit(2);
  }
  if (!configFile) {
    process.stderr.write(`missing --config\n${USAGE}\n`);
    process.exit(2);
  }
  let config;
  try {
    config = loadAgentConfig(configFile);
  } catch (err) {
    process.stderr.write(`hopgate agent: ${errorMessageOf(err)}\n`);
    process.exit(2);
  }
  const logger = createLogger({ service: 'agent', level: config.logLevel });
  installCrashHandlers(logger, 'agent');
  const agent = new TunnelAgent(config, logger.child({ client_id: config.clientId }));
  logger.info(
    { client_id: config.clientId, server: config.servers.map(formatHostPort).join(','), services: Object.keys(config.services) },
    'agent starting',
  );
  agent.on('replaced', () => {
    void agent.stop().then(() => process.exit(EXIT_REPLACED));
  });
  let ops: OpsServer | undefined;
  if (config.opsListen) {
    // Optional (`ops_listen`): /healthz while the loop turns, /readyz while a session is online, /metrics.
    ops = new OpsServer({ listen: config.opsListen, logger });
    const loop = new LoopMonitor();
    loop.start();
    addProbeRoutes(ops, { readiness: () => (agent.currentState === 'online' ? READY : notReady(`session ${agent.currentState}`)) }, loop);
    const registry = createMetricsRegistry();
    agent.metrics(registry);
    addMetricsRoute(ops, registry, logger);
    ops.start().catch((err: unknown) => {
      logger.fatal({ err: errorMessageOf(err) }, 'agent: the ops listener (ops_listen) could not bind');
      process.exit(START_FAILED_EXIT_CODE);
    });
  }
  agent.start();
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'agent stopping');
    void agent.stop().then(() => ops?.close()).then(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main();
