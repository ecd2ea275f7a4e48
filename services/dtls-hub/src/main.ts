#!/usr/bin/env node
import { loadHubConfig } from '@hopgate/config';
import { runService } from '@hopgate/runtime';
import { Hub } from './hub.js';

void runService({
  name: 'dtls-hub',
  loadConfig: () => loadHubConfig(),
  create: (config, logger) => {
    const hub = new Hub(config, logger.child({ hub_id: config.hubId }));
    // SIGTERM/SIGINT: drain first (agents move make-before-break, HOPGATE_DRAIN_TIMEOUT_MS), then stop.
    return {
      start: () => hub.start(),
      stop: async () => {
        await hub.drain(config.drainTimeoutMs);
        await hub.stop();
      },
    };
  },
});
