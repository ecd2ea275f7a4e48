#!/usr/bin/env node
import { loadIngressConfig } from '@hopgate/config';
import { runService } from '@hopgate/runtime';
import { Ingress } from './ingress.js';

void runService({
  name: 'https-ingress',
  loadConfig: () => loadIngressConfig(),
  create: (config, logger) => new Ingress(config, logger.child({ ingress_id: config.ingressId })),
});
