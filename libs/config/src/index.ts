export * from './defaults.js';
export { parseHostPort, formatHostPort, type ListenAddress } from './listen-address.js';
export { ServiceSettings, readSettingsFile, processEnv, type RawSettings } from './sources.js';
export {
  loadIngressConfig,
  loadHubConfig,
  loadCliConfig,
  loadCertManagerConfig,
  certNameProblem,
  ACME_CHALLENGES,
  MIN_ACME_INTERVAL_MS,
  MIN_HEADER_BYTES,
  MAX_HEADER_BYTES_LIMIT,
  type CertManagerConfig,
  type AcmeChallenge,
  type CommonConfig,
  type LifecycleConfig,
  type IngressConfig,
  type HubConfig,
  type DtlsLimitsConfig,
  type CliConfig,
} from './service-config.js';
export {
  redisConnectionConfig,
  natsConnectionConfig,
  readPemCertificates,
  redactUrl,
  type RedisConnectionConfig,
  type RedisSentinelConfig,
  type NatsConnectionConfig,
  type NatsAuth,
} from './bus-config.js';
export { parseCookieSecrets, MIN_DTLS_COOKIE_SECRET_BYTES } from './cookie-secret.js';
export { loadAgentConfig, parseAgentConfig, ID_PATTERN, defaultInstanceId, type AgentConfig } from './agent-config.js';
export {
  resolveAgentInvocation,
  AGENT_USAGE,
  AGENT_ENV_VARIABLES,
  AGENT_USAGE_EXIT_CODE,
  AGENT_LOG_LEVELS,
  MAX_TOKEN_FILE_BYTES,
  type AgentInvocation,
} from './agent-options.js';
