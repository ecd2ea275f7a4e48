import { LuaScript } from './lua-script.js';

/*
 * Session ownership is fenced by epochs: each one is written and checked atomically in Lua.
 * An epoch that is not a positive decimal integer counts as absent (a malformed record).
 */

/**
 * KEYS[1] session key; ARGV hub, epoch, connected_at, remote, ttl_ms.
 * Writes the record unless it already holds a higher epoch, or the same epoch for another hub.
 * Re-claiming one's own (hub, epoch) is idempotent and refreshes the TTL. Returns 1 or 0.
 */
export const CLAIM_SCRIPT = new LuaScript(`
local raw = redis.call('HGET', KEYS[1], 'epoch')
local stored = nil
if raw and string.match(raw, '^[1-9][0-9]*$') then stored = tonumber(raw) end
local epoch = tonumber(ARGV[2])
if stored ~= nil then
  if stored > epoch then return 0 end
  if stored == epoch and redis.call('HGET', KEYS[1], 'hub') ~= ARGV[1] then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'hub', ARGV[1], 'epoch', ARGV[2], 'connected_at', ARGV[3], 'remote', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`);

/** KEYS[1] session key; ARGV hub, epoch, ttl_ms. PEXPIRE only while the record names this hub and epoch. */
export const REFRESH_SCRIPT = new LuaScript(`
local cur = redis.call('HMGET', KEYS[1], 'hub', 'epoch')
if cur[1] == ARGV[1] and cur[2] == ARGV[2] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 0
`);

/** KEYS[1] session key; ARGV hub, epoch. DEL only while the record names this hub and epoch. */
export const RELEASE_SCRIPT = new LuaScript(`
local cur = redis.call('HMGET', KEYS[1], 'hub', 'epoch')
if cur[1] == ARGV[1] and cur[2] == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
`);
