/**
 * The agent's side of libs/dtls alone (`@hopgate/dtls/client`): the client and what it needs,
 * without the hub's server, so that an agent never loads (and its image never carries)
 * werift-dtls, which only the hub uses.
 */
export {
  MAX_UDP_PAYLOAD_BYTES,
  AES_128_GCM_RECORD_OVERHEAD_BYTES,
  MAX_DATAGRAM_SIZE_BYTES,
  MAX_SEND_DATAGRAM_BYTES,
  PROBE_DATAGRAM_SIZES_BYTES,
  PROBE_UDP_PAYLOAD_SIZES_BYTES,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  REPLAY_WINDOW_RECORDS,
} from './constants.js';
export { probeDatagramSizesFor, probeDatagramSizesForMtu, isLoopbackRemote, smallestInterfaceMtu, MAX_REMOTE_PROBE_UDP_PAYLOAD_BYTES } from './path-mtu.js';
export { connectDtls, type DtlsClientOptions } from './connect-dtls.js';
export { DtlsClientLink, type ClientLinkStats } from './client-link.js';
export { defaultRecordCrypto, recordCryptoModeFromEnv, RECORD_CRYPTO_ENV, type RecordCryptoBackend } from './native-aes-gcm.js';
export { verifyServerChain, loadTrustAnchors, type ChainVerifyOptions } from './verify-chain.js';
