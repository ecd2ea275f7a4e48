#!/usr/bin/env node
import { loadCertManagerConfig } from '@hopgate/config';
import { runService } from '@hopgate/runtime';
import { CertManager } from './cert-manager.js';

void runService({
  name: 'cert-manager',
  loadConfig: () => loadCertManagerConfig(),
  create: (config, logger) => new CertManager(config, logger.child({ replica_id: config.replicaId })),
});
