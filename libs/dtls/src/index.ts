export {
  MAX_UDP_PAYLOAD_BYTES,
  AES_128_GCM_RECORD_OVERHEAD_BYTES,
  MAX_DATAGRAM_SIZE_BYTES,
  MAX_SEND_DATAGRAM_BYTES,
  PROBE_DATAGRAM_SIZES_BYTES,
  PROBE_UDP_PAYLOAD_SIZES_BYTES,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_SESSIONS,
  COOKIE_TIME_SLOT_MS,
  REPLAY_WINDOW_RECORDS,
} from './constants.js';
export { probeDatagramSizesFor, probeDatagramSizesForMtu, isLoopbackRemote, smallestInterfaceMtu, MAX_REMOTE_PROBE_UDP_PAYLOAD_BYTES } from './path-mtu.js';
export { connectDtls, type DtlsClientOptions } from './connect-dtls.js';
export { DtlsClientLink, type ClientLinkStats } from './client-link.js';
export { DtlsHubServer, NO_CERTIFICATE_LOG_INTERVAL_MS, type DtlsServerOptions, type DtlsHubStats } from './hub-server.js';
export { DtlsServerLink } from './server-link.js';
export type { HubCounters } from './hub-counters.js';
export { verifyServerChain, loadTrustAnchors, type ChainVerifyOptions } from './verify-chain.js';
