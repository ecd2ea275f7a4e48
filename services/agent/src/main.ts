#!/usr/bin/env node
import { resolveAgentInvocation, formatHostPort, AGENT_USAGE, AGENT_USAGE_EXIT_CODE, type AgentConfig } from '@hopgate/config';
import { createLogger } from '@hopgate/log';
import { defaultRecordCrypto, type RecordCryptoBackend } from '@hopgate/dtls/client';
import { errorMessageOf } from '@hopgate/errors';
import { installCrashHandlers, LoopMonitor, OpsServer, START_FAILED_EXIT_CODE, addMetricsRoute, addProbeRoutes, notReady, READY } from '@hopgate/runtime';
import { createMetricsRegistry } from '@hopgate/metrics';
import { TunnelAgent } from './agent.js';

/** Exit code when another agent with the same client_id took over the session. */
export const EXIT_REPLACED = 3;

function main(): void {
  let config: AgentConfig;
  let recordCrypto: RecordCryptoBackend;
  try {
    const invocation = resolveAgentInvocation(process.argv.slice(2));
    if (invocation.kind === 'help') {
      process.stdout.write(AGENT_USAGE);
      return;
    }
    config = invocation.config;
    // HOPGATE_DTLS_RECORD_CRYPTO=native without the addon is refused here, before any dial.
    recordCrypto = defaultRecordCrypto();
  } catch (err) {
    process.stderr.write(`hopgate-agent: ${errorMessageOf(err)}\nRun "hopgate-agent --help" for usage.\n`);
    process.exit(AGENT_USAGE_EXIT_CODE);
  }
  const logger = createLogger({ service: 'agent', level: config.logLevel });
  installCrashHandlers(logger, 'agent');
  const agent = new TunnelAgent(config, logger.child({ client_id: config.clientId }));
  logger.info(
    { client_id: config.clientId, server: config.servers.map(formatHostPort).join(','), services: Object.keys(config.services),
      record_crypto: recordCrypto.backend, record_crypto_reason: recordCrypto.reason },
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
