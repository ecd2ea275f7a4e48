#!/usr/bin/env node
import { loadHubConfig } from '@hopgate/config';
import { defaultRecordCrypto } from '@hopgate/dtls';
import { runService } from '@hopgate/runtime';
import { Hub } from './hub.js';

void runService({
  name: 'dtls-hub',
  loadConfig: () => {
    const config = loadHubConfig();
    // HOPGATE_DTLS_RECORD_CRYPTO=native without the addon is a configuration error (exit 2).
    defaultRecordCrypto();
    return config;
  },
  create: (config, logger) => new Hub(config, logger.child({ hub_id: config.hubId })),
});
