export { runCli, type CliIo } from './cli.js';
export { USAGE, EXIT_OK, EXIT_FAILURE, EXIT_USAGE, UsageError, CommandFailed } from './usage.js';
export { connectRedis, CLI_CONNECT_TIMEOUT_MS } from './redis-connection.js';
