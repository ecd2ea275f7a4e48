// The agent's side (also `@hopgate/dtls/client`, which leaves out werift-dtls), then the hub's.
export * from './client.js';
export {
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
} from './constants.js';
export { DtlsHubServer, NO_CERTIFICATE_LOG_INTERVAL_MS, type DtlsHubStats } from './hub-server.js';
export type { DtlsServerOptions } from './server-options.js';
export { DtlsServerLink } from './server-link.js';
export type { HubCounters } from './hub-counters.js';
