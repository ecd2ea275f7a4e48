export { ClientStore, hashToken, CLIENT_TOKEN_BYTES, TOKEN_SHA256_FIELD, type VerifyResult, type CredentialsCheck } from './client-store.js';
export { ClientWatcher, type ClientWatcherOptions } from './client-watcher.js';
export { SessionStore, type SessionClaim, type ListedSession } from './session-store.js';
export { parseSessionRecord, SESSION_FIELDS, type SessionRecord } from './session-record.js';
export { OwnerCache, DEFAULT_OWNER_CACHE_MAX_ENTRIES, type OwnerCacheOptions, type OwnerSource, type SessionSource } from './owner-cache.js';
export { HubRegistry, parseHubRecord, DEFAULT_HUB_TTL_MS, HUB_FIELDS, type HubRecord, type ListedHub, type HubInfo } from './hub-registry.js';
export { InstanceStore, type LiveInstance, type ListedInstance } from './instance-store.js';
export { LuaScript } from './lua-script.js';
export { scanAll, SCAN_COUNT } from './scan.js';
