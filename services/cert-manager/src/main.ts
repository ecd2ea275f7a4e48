#!/usr/bin/env node
import { loadCertManagerConfig } from '@hopgate/config';
import { createLogger } from '@hopgate/log';
import { errorMessageOf } from '@hopgate/errors';
import { CertManager } from './cert-manager.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadCertManagerConfig();
  } catch (err) {
    process.stderr.write(`cert-manager: ${errorMessageOf(err)}\n`);
    process.exit(2);
  }
  const logger = createLogger({ service: 'cert-manager', level: config.logLevel });
  const manager = new CertManager(config, logger.child({ replica_id: config.replicaId }));
  try {
    await manager.start();
  } catch (err) {
    logger.fatal({ err: errorMessageOf(err) }, 'cert-manager failed to start');
    await manager.stop().catch(() => undefined);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'cert-manager stopping');
    void manager.stop().finally(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

void main();
