export * from './messages.js';
export {
  encodeMessage,
  decodeMessage,
  peekMessage,
  encodePreface,
  decodePreface,
  WireVersionError,
  MAX_MESSAGE_BYTES,
  MAX_STRING_BYTES,
  MAX_LIST_ITEMS,
  LENGTH_PREFIX_BYTES,
  PREFACE_BYTES,
} from './codec.js';
export { encodeRelayOpen, decodeRelayOpen, type RelayEnvelope } from './envelope.js';
export { encodeLegacyRejection, upgradeAgentReason, LEGACY_WIRE_VERSION } from './legacy.js';
export { MessageStreamReader } from './stream-reader.js';
export { encodeSessionClaimed, decodeSessionClaimed, MAX_SESSION_CLAIMED_BYTES, type SessionClaimed } from './session-claimed.js';
export { encodeCertUpdated, decodeCertUpdated, type CertUpdated } from './cert-updated.js';
export { originTimingExtension, originMicrosOf } from './timing.js';
