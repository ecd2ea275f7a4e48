import { ErrorCode, HopError } from '@hopgate/errors';
import { type Logger, silentLogger } from '@hopgate/log';
import type { CongestionControlAlgorithm } from './congestion-controller.js';
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_INITIAL_CONNECTION_WINDOW_BYTES,
  DEFAULT_INITIAL_STREAM_WINDOW_BYTES,
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  DEFAULT_SERVER_KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_IDLE_TIMEOUT_DIVISOR,
  DEFAULT_MAX_CONNECTION_WINDOW_BYTES,
  DEFAULT_MAX_INCOMING_STREAMS,
  DEFAULT_MAX_STREAM_WINDOW_BYTES,
  MAX_STREAMS_LIMIT,
  MIN_WINDOW_BYTES,
} from './constants.js';

export interface ConnectionOptions {
  /** 'client' opens streams 0, 4, 8...; 'server' opens 1, 5, 9... (RFC 9000 §2.1). */
  role: 'client' | 'server';
  /** No packet received for this long closes the connection; 0 disables. Default DEFAULT_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number;
  /**
   * A PING when nothing was received for this long (at most a third of the idle timeout); 0
   * disables. Default DEFAULT_KEEPALIVE_INTERVAL_MS for a client, DEFAULT_SERVER_KEEPALIVE_INTERVAL_MS for a server.
   */
  keepAliveIntervalMs?: number;
  /**
   * Close the connection when ack-eliciting packets stay unacknowledged for the dead-peer bound
   * (MIN_DEAD_PEER_MS .. MAX_DEAD_PEER_MS, from the measured RTT; see DeadPeerDetector). Default true.
   */
  deadPeerDetection?: boolean;
  /** Concurrent streams the peer may open. Default DEFAULT_MAX_INCOMING_STREAMS. */
  maxIncomingStreams?: number;
  /** Initial receive window per stream. Default DEFAULT_INITIAL_STREAM_WINDOW_BYTES. */
  initialStreamWindowBytes?: number;
  /** Auto-tuned stream windows stop here. Default DEFAULT_MAX_STREAM_WINDOW_BYTES. */
  maxStreamWindowBytes?: number;
  /** Initial receive window of the connection. Default DEFAULT_INITIAL_CONNECTION_WINDOW_BYTES. */
  initialConnectionWindowBytes?: number;
  /** Auto-tuned connection window stops here. Default DEFAULT_MAX_CONNECTION_WINDOW_BYTES. */
  maxConnectionWindowBytes?: number;
  /**
   * 'loss-tolerant' (default): reduces the window only when a round trip loses more than
   * LOSS_TOLERANCE_FRACTION of its traffic, by 0.7. 'new-reno': RFC 9002 §7.3, halves on every loss event.
   */
  congestionControl?: CongestionControlAlgorithm;
  /**
   * Path MTU discovery (RFC 8899) over the link's probeDatagramSizes: default true. Off, the
   * connection stays at link.maxDatagramSize.
   */
  pathMtuDiscovery?: boolean;
  /** Default silentLogger(). */
  logger?: Logger;
}

export interface ResolvedOptions {
  readonly isClient: boolean;
  readonly idleTimeoutMs: number;
  readonly keepAliveIntervalMs: number;
  readonly deadPeerDetection: boolean;
  readonly maxIncomingStreams: number;
  readonly initialStreamWindowBytes: number;
  readonly maxStreamWindowBytes: number;
  readonly initialConnectionWindowBytes: number;
  readonly maxConnectionWindowBytes: number;
  readonly congestionControl: CongestionControlAlgorithm;
  readonly pathMtuDiscovery: boolean;
  readonly logger: Logger;
}

function check(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HopError(ErrorCode.BadConfig, `transport option ${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

export function resolveOptions(options: ConnectionOptions): ResolvedOptions {
  if (options.role !== 'client' && options.role !== 'server') {
    throw new HopError(ErrorCode.BadConfig, `transport option role must be 'client' or 'server'`);
  }
  const initialStream = check('initialStreamWindowBytes', options.initialStreamWindowBytes ?? DEFAULT_INITIAL_STREAM_WINDOW_BYTES, MIN_WINDOW_BYTES);
  const initialConnection = check(
    'initialConnectionWindowBytes',
    options.initialConnectionWindowBytes ?? DEFAULT_INITIAL_CONNECTION_WINDOW_BYTES,
    MIN_WINDOW_BYTES,
  );
  const idleTimeoutMs = check('idleTimeoutMs', options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, 0);
  const defaultKeepAlive = options.role === 'client' ? DEFAULT_KEEPALIVE_INTERVAL_MS : DEFAULT_SERVER_KEEPALIVE_INTERVAL_MS;
  let keepAliveIntervalMs = check('keepAliveIntervalMs', options.keepAliveIntervalMs ?? defaultKeepAlive, 0);
  if (keepAliveIntervalMs > 0 && idleTimeoutMs > 0) {
    keepAliveIntervalMs = Math.min(keepAliveIntervalMs, Math.max(1, Math.floor(idleTimeoutMs / KEEPALIVE_IDLE_TIMEOUT_DIVISOR)));
  }
  const congestionControl = options.congestionControl ?? 'loss-tolerant';
  if (congestionControl !== 'loss-tolerant' && congestionControl !== 'new-reno') {
    throw new HopError(ErrorCode.BadConfig, `transport option congestionControl must be 'loss-tolerant' or 'new-reno'`);
  }
  return {
    isClient: options.role === 'client',
    congestionControl,
    pathMtuDiscovery: options.pathMtuDiscovery ?? true,
    idleTimeoutMs,
    keepAliveIntervalMs,
    deadPeerDetection: options.deadPeerDetection ?? true,
    maxIncomingStreams: check('maxIncomingStreams', options.maxIncomingStreams ?? DEFAULT_MAX_INCOMING_STREAMS, 1, MAX_STREAMS_LIMIT),
    initialStreamWindowBytes: initialStream,
    maxStreamWindowBytes: check('maxStreamWindowBytes', options.maxStreamWindowBytes ?? Math.max(DEFAULT_MAX_STREAM_WINDOW_BYTES, initialStream), initialStream),
    initialConnectionWindowBytes: initialConnection,
    maxConnectionWindowBytes: check(
      'maxConnectionWindowBytes',
      options.maxConnectionWindowBytes ?? Math.max(DEFAULT_MAX_CONNECTION_WINDOW_BYTES, initialConnection),
      initialConnection,
    ),
    logger: options.logger ?? silentLogger(),
  };
}
