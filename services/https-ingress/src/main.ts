#!/usr/bin/env node
import { loadIngressConfig } from '@hopgate/config';
import { createLogger } from '@hopgate/log';
import { errorMessageOf } from '@hopgate/errors';
import { Ingress } from './ingress.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadIngressConfig();
  } catch (err) {
    process.stderr.write(`https-ingress: ${errorMessageOf(err)}\n`);
    process.exit(2);
  }
  const logger = createLogger({ service: 'https-ingress', level: config.logLevel });
  const ingress = new Ingress(config, logger.child({ ingress_id: config.ingressId }));
  try {
    await ingress.start();
  } catch (err) {
    logger.fatal({ err: errorMessageOf(err) }, 'https-ingress failed to start');
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'https-ingress stopping');
    void ingress.stop().finally(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

void main();
