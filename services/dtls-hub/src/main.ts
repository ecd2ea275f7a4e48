#!/usr/bin/env node
import { loadHubConfig } from '@hopgate/config';
import { createLogger } from '@hopgate/log';
import { errorMessageOf } from '@hopgate/errors';
import { Hub } from './hub.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadHubConfig();
  } catch (err) {
    process.stderr.write(`dtls-hub: ${errorMessageOf(err)}\n`);
    process.exit(2);
  }
  const logger = createLogger({ service: 'dtls-hub', level: config.logLevel });
  const hub = new Hub(config, logger.child({ hub_id: config.hubId }));
  try {
    await hub.start();
  } catch (err) {
    logger.fatal({ err: errorMessageOf(err) }, 'dtls-hub failed to start');
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'dtls-hub stopping');
    void hub.stop().finally(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

void main();
