#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadAgentConfig, formatHostPort } from '@hopgate/config';
import { createLogger } from '@hopgate/log';
import { errorMessageOf } from '@hopgate/errors';
import { installCrashHandlers } from '@hopgate/runtime';
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
  agent.start();
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'agent stopping');
    void agent.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main();
