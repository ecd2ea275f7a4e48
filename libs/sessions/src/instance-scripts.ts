import { LuaScript } from './lua-script.js';

/*
 * Per-instance session records (agent replicas), fenced by epochs exactly as the client-wide
 * record is (session-scripts.ts): every write checks the stored (hub, epoch) atomically.
 * KEYS of the writing scripts: [1] instance hash `instance:<client>:<instance>`,
 * [2] index set `instances:<client>`, [3] the client-wide hash `session:<client>`, which names
 * the most recently claimed instance for tools (its fields are unchanged, plus `instance`).
 */

/** Lua helper: the stored epoch of a hash, nil when absent or malformed (a malformed record counts as absent). */
const EPOCH_OF = `
local function epochOf(key)
  local raw = redis.call('HGET', key, 'epoch')
  if raw and string.match(raw, '^[1-9][0-9]*$') then return tonumber(raw) end
  return nil
end
`;

/** Lua helper: the index lives at least as long as its longest-lived instance record. */
const EXTEND_INDEX = `
local function extendIndex(key, member, ttl)
  redis.call('SADD', key, member)
  if redis.call('PTTL', key) < tonumber(ttl) then redis.call('PEXPIRE', key, ttl) end
end
`;

/**
 * KEYS[4] the epoch counter. ARGV hub, epoch, connected_at, remote, ttl_ms, instance_id,
 * instance key prefix. Writes the instance record unless it holds a higher epoch, or the same
 * epoch for another hub (then 0); re-claiming one's own (hub, epoch) is idempotent. Adds the id
 * to the index and drops ids whose record is gone (expired with a dead hub). The client-wide
 * record is written when it is absent or older. The counter is raised to the epoch if it is
 * lower (a Redis that lost its data: epochs handed out later stay above re-claimed ones).
 * Returns 1 or 0.
 */
export const CLAIM_INSTANCE_SCRIPT = new LuaScript(`${EPOCH_OF}${EXTEND_INDEX}
local epoch = tonumber(ARGV[2])
local stored = epochOf(KEYS[1])
if stored ~= nil then
  if stored > epoch then return 0 end
  if stored == epoch and redis.call('HGET', KEYS[1], 'hub') ~= ARGV[1] then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'hub', ARGV[1], 'epoch', ARGV[2], 'connected_at', ARGV[3], 'remote', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local counter = redis.call('GET', KEYS[4])
if not counter or not string.match(counter, '^[0-9]+$') or tonumber(counter) < epoch then redis.call('SET', KEYS[4], ARGV[2]) end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[7] .. id) == 0 then redis.call('SREM', KEYS[2], id) end
end
extendIndex(KEYS[2], ARGV[6], ARGV[5])
local s = epochOf(KEYS[3])
if s == nil or s < epoch or (s == epoch and redis.call('HGET', KEYS[3], 'hub') == ARGV[1]) then
  redis.call('DEL', KEYS[3])
  redis.call('HSET', KEYS[3], 'hub', ARGV[1], 'epoch', ARGV[2], 'connected_at', ARGV[3], 'remote', ARGV[4], 'instance', ARGV[6])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
return 1
`);

/**
 * ARGV hub, epoch, ttl_ms, instance_id. Only while the instance record names (hub, epoch):
 * PEXPIRE it and the index, and the client-wide record when it names the same session or is
 * gone (then re-written from the instance record). Returns 1, or 0 (replaced or expired).
 */
export const REFRESH_INSTANCE_SCRIPT = new LuaScript(`${EXTEND_INDEX}
local cur = redis.call('HMGET', KEYS[1], 'hub', 'epoch', 'connected_at', 'remote')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
extendIndex(KEYS[2], ARGV[4], ARGV[3])
local s = redis.call('HMGET', KEYS[3], 'hub', 'epoch')
if s[1] == ARGV[1] and s[2] == ARGV[2] then
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
elseif redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('HSET', KEYS[3], 'hub', ARGV[1], 'epoch', ARGV[2], 'connected_at', cur[3] or '0', 'remote', cur[4] or '', 'instance', ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
return 1
`);

/**
 * ARGV hub, epoch, instance_id. Only while the instance record names (hub, epoch): DEL it,
 * SREM the id, and DEL the client-wide record if it names the same session. Returns 1 or 0.
 */
export const RELEASE_INSTANCE_SCRIPT = new LuaScript(`
local cur = redis.call('HMGET', KEYS[1], 'hub', 'epoch')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[3])
local s = redis.call('HMGET', KEYS[3], 'hub', 'epoch')
if s[1] == ARGV[1] and s[2] == ARGV[2] then redis.call('DEL', KEYS[3]) end
return 1
`);

/**
 * Read-only, one round trip for the ingress. KEYS[1] index set, KEYS[2] client-wide record;
 * ARGV[1] instance key prefix. Returns a flat list `id, hub, epoch, ...` of the instances whose
 * record exists; with no index at all (a hub from before replicas), the client-wide record as
 * one instance with id ''. Instance keys are built from the prefix inside the script: fine on
 * one Redis (and Sentinel), not on Redis Cluster (no hash tags).
 */
export const LOOKUP_INSTANCES_SCRIPT = new LuaScript(`
local out = {}
if redis.call('EXISTS', KEYS[1]) == 1 then
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    local r = redis.call('HMGET', ARGV[1] .. id, 'hub', 'epoch')
    if r[1] and r[2] then
      table.insert(out, id)
      table.insert(out, r[1])
      table.insert(out, r[2])
    end
  end
  return out
end
local s = redis.call('HMGET', KEYS[2], 'hub', 'epoch')
if s[1] and s[2] then
  table.insert(out, '')
  table.insert(out, s[1])
  table.insert(out, s[2])
end
return out
`, { readOnly: true });
