#!/usr/bin/env node
import { loadHubConfig } from '@hopgate/config';
import { runService } from '@hopgate/runtime';
import { Hub } from './hub.js';

void runService({
  name: 'dtls-hub',
  loadConfig: () => loadHubConfig(),
  create: (config, logger) => new Hub(config, logger.child({ hub_id: config.hubId })),
});
