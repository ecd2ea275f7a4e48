export type { DatagramLink } from './datagram-link.js';
export { Connection } from './connection.js';
export type { ConnectionOptions } from './options.js';
export type { CongestionControlAlgorithm } from './congestion-controller.js';
export type { ConnectionStats } from './stats.js';
export { TransportStream } from './transport-stream.js';
export { PmtuSearch, PmtuState } from './pmtu-search.js';
export {
  ConnectionCloseError,
  StreamResetError,
  StreamResetCode,
  TransportErrorCode,
} from './errors.js';
export {
  createMemoryLinkPair,
  MemoryLink,
  DEFAULT_MEMORY_LINK_SEED,
  DEFAULT_MEMORY_LINK_QUEUE_LIMIT_BYTES,
  type LossyLinkOptions,
  type MemoryLinkStats,
} from './memory-link.js';
export * from './constants.js';
