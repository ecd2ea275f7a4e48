export {
  MAX_UDP_PAYLOAD_BYTES,
  AES_128_GCM_RECORD_OVERHEAD_BYTES,
  MAX_DATAGRAM_SIZE_BYTES,
  MAX_SEND_DATAGRAM_BYTES,
  PROBE_DATAGRAM_SIZES_BYTES,
  PROBE_UDP_PAYLOAD_SIZES_BYTES,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_HANDSHAKES_PER_IP,
  DEFAULT_MAX_UNAUTHENTICATED_PER_IP,
  DEFAULT_UNAUTHENTICATED_SHARE_PERCENT,
  DEFAULT_HANDSHAKES_PER_IP_PER_S,
  DEFAULT_HANDSHAKE_BURST_PER_IP,
  MAX_HANDSHAKE_RATE_SOURCES,
  DEFAULT_STATS_LOG_INTERVAL_MS,
  REFUSAL_LOG_INTERVAL_MS,
  MAX_RECORDS_PER_DATAGRAM,
  MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES,
  MAX_HANDSHAKE_RECORDS_PER_PEER,
  MAX_HANDSHAKE_FRAGMENTS_PER_PEER,
  MAX_HANDSHAKE_FRAGMENT_BYTES_PER_PEER,
  MAX_FINAL_FLIGHT_RETRANSMITTED_RECORDS,
  COOKIE_TIME_SLOT_MS,
  COOKIE_SECRET_BYTES,
  MIN_COOKIE_SECRET_BYTES,
  REPLAY_WINDOW_RECORDS,
} from './constants.js';
export { probeDatagramSizesFor, probeDatagramSizesForMtu, isLoopbackRemote, smallestInterfaceMtu, MAX_REMOTE_PROBE_UDP_PAYLOAD_BYTES } from './path-mtu.js';
export { connectDtls, type DtlsClientOptions } from './connect-dtls.js';
export { DtlsClientLink, type ClientLinkStats } from './client-link.js';
export { DtlsHubServer, NO_CERTIFICATE_LOG_INTERVAL_MS, type DtlsHubStats } from './hub-server.js';
export type { DtlsServerOptions } from './server-options.js';
export { DtlsServerLink } from './server-link.js';
export type { HubCounters } from './hub-counters.js';
export { verifyServerChain, loadTrustAnchors, type ChainVerifyOptions } from './verify-chain.js';
