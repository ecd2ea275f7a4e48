export { freeTcpPort, freeUdpPort, tcpOpen } from './ports.js';
export { waitFor, DEFAULT_WAIT_TIMEOUT_MS, DEFAULT_WAIT_INTERVAL_MS } from './wait.js';
export { startRedis, startNats, type RunningServer, type ServerTls, type RedisServerOptions, type NatsServerOptions } from './servers.js';
export { createDevCa, DEV_CERT_DAYS, type DevCa, type DevCertificate } from './certs.js';
export { ManagedProcess, type LogRecord } from './managed-process.js';
export { Stack, REPO_ROOT, HUB_SERVER_NAME, AGENT_BIN, serviceMain, type StackOptions, type HubNode, type IngressNode, type AgentOptions, type Login, type BusLogin, type StackLogins } from './stack.js';
export { reapOnExit } from './child-reaper.js';
export { UdpLossProxy, DEFAULT_REORDER_DELAY_MS, PROXY_FLOW_IDLE_MS, type UdpImpairments, type UdpLossProxyOptions, type UdpLossProxyStats } from './udp-loss-proxy.js';
export { RssSampler, readRssBytes, formatMiB, DEFAULT_RSS_SAMPLE_INTERVAL_MS, type RssFigures } from './rss-sampler.js';
export { startBodyOrigin, answerSha256, randomChunks, BODY_CHUNK_BYTES, type BodyOrigin, type DownloadState } from './body-origin.js';
export { startPebble, PEBBLE_START_TIMEOUT_MS, type PebbleOptions, type RunningPebble } from './pebble.js';
export {
  RawDtlsPeer,
  rawRecord,
  rawHandshakeFragment,
  rawPartialCertificate,
  rawClientHello,
  cookieFromHelloVerifyRequest,
  RAW_CONTENT_TYPE,
  RAW_HANDSHAKE_TYPE,
  RAW_PEER_REPLY_TIMEOUT_MS,
  RAW_PARTIAL_MESSAGE_BYTES,
  RAW_PARTIAL_FRAGMENT_BYTES,
  type RawHandshakeFragment,
  type RawHelloOptions,
} from './raw-dtls.js';
export { SeededRandom, MAX_SEED } from './seeded-random.js';
export { captureLogger } from './capture-logger.js';
export { TcpBalancer, type TcpBalancerStats } from './tcp-balancer.js';
export { NatsCluster, NATS_NODE_START_TIMEOUT_MS, NATS_NODE_STOP_GRACE_MS, NATS_CLUSTER_NAME, type NatsNode, type NatsConnz, type NatsClusterOptions } from './nats-cluster.js';
export {
  LoadGenerator,
  DEFAULT_LOAD_PAUSE_MS,
  DEFAULT_LOAD_WORKERS_PER_TARGET,
  DEFAULT_LOAD_REQUEST_TIMEOUT_MS,
  type LoadTarget,
  type LoadGeneratorOptions,
  type LoadOutcome,
  type LoadStats,
  type LoadTargetStats,
  type TargetRecovery,
} from './load-generator.js';
export { startNamedOrigin, NAMED_ORIGIN_MAX_SLOW_MS, type NamedOrigin } from './named-origin.js';
export { redisCommand, REDIS_COMMAND_TIMEOUT_MS } from './redis-command.js';
export {
  Cluster,
  DEFAULT_CLUSTER_INGRESSES,
  DEFAULT_CLUSTER_HUBS,
  DEFAULT_CLUSTER_NATS_NODES,
  DEFAULT_CLUSTER_AGENTS,
  CLUSTER_START_TIMEOUT_MS,
  CLUSTER_STOP_GRACE_MS,
  CLUSTER_DOMAIN,
  type ClusterPart,
  type ClusterIngress,
  type ClusterHub,
  type ClusterAgent,
  type ClusterOptions,
} from './cluster.js';
export {
  startRedisSentinelSet,
  redisCli,
  SENTINEL_DOWN_AFTER_MS,
  SENTINEL_FAILOVER_TIMEOUT_MS,
  SENTINEL_SET_READY_TIMEOUT_MS,
  type RedisSentinelSet,
  type RedisSentinelSetOptions,
} from './redis-sentinel.js';
export { DEMO_DOMAIN, DEMO_INGRESS_NAMES } from './demo-names.js';
