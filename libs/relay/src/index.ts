export { RelayClient, type RelayClientOptions } from './relay-client.js';
export { RelayClientStream } from './relay-client-stream.js';
export { RelayServer, type RelayServerOptions, type RelayServerEvents } from './relay-server.js';
export { RelayServerStream } from './relay-server-stream.js';
export { type FlowStats, StreamPhase } from './relay-stream.js';
export {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_WINDOW_CHUNKS,
  DEFAULT_WINDOW_BYTES,
  DEFAULT_OPEN_TIMEOUT_MS,
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_STREAMS,
  CREDIT_UPDATE_WINDOW_DIVISOR,
  MAX_CHUNK_BYTES,
  MAX_WINDOW_BYTES,
  MAX_HEAD_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_STREAM_ID_BYTES,
  MAX_SUBJECT_BYTES,
  MAX_EARLY_FRAMES,
  MAX_DEFERRED_RESETS,
  DEFAULT_PEER_PROBE_INTERVAL_MS,
  DEFAULT_PEER_PROBE_TIMEOUT_MS,
  MAX_PEER_PROBE_MISSES,
  PEER_INSTANCE_ID_BYTES,
  MAX_INSTANCE_ID_BYTES,
  NATS_NO_ASYNC_TRACES,
  NATS_PENDING_LIMIT_BYTES,
  DEFAULT_MAX_PAYLOAD_BYTES,
  PUBLISH_SLAB_BYTES,
  SLAB_FRESH_BATCH_MIN_BYTES,
  MAX_BATCH_BYTES,
} from './defaults.js';
export {
  FrameType,
  RELAY_MAGIC,
  RELAY_VERSION,
  OPEN_FLAG_FIN,
  frameTypeName,
  type Frame,
  type FrameHeader,
  type OpenFrame,
  type AcceptFrame,
  type RejectFrame,
  type DataFrame,
  type EndFrame,
  type CreditFrame,
  type ResponseFrame,
  type ResetFrame,
  type PingFrame,
  type PongFrame,
} from './frames.js';
export { encodeFrame, encodeFrames, decodeFrame, decodeFrames, FRAME_FIXED_HEADER_BYTES, MESSAGE_HEADER_BYTES } from './codec.js';
