export * from './messages.js';
export {
  encodeMessage,
  decodeMessage,
  encodePreface,
  decodePreface,
  MAX_MESSAGE_BYTES,
  LENGTH_PREFIX_BYTES,
  PREFACE_BYTES,
} from './codec.js';
export { MessageStreamReader } from './stream-reader.js';
export { encodeSessionClaimed, decodeSessionClaimed, MAX_SESSION_CLAIMED_BYTES, type SessionClaimed } from './session-claimed.js';
