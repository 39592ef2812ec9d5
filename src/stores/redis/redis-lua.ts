/**
 * The Lua helpers every Redis script of the store starts with.
 *
 * Conventions (so that every script reads the same way):
 * - `ARGV[1]` is `"1"` when the script writes its effects (denylist entries, event-log
 *   entries) itself, `ARGV[2]` the writing store's origin id (its own feed skips those
 *   entries), `ARGV[3]` the log's approximate MAXLEN; a script's own arguments follow and
 *   are read with `A(i)`. When effects are written inline, the denylist and the event log
 *   are the last two KEYS.
 * - Read and check first, write last: a Redis script is not rolled back when it fails half
 *   way, so every `error` is raised before the first write.
 * - Numbers are never formatted in Lua (its `tostring` rounds to 14 digits): times arrive
 *   as decimal strings from Node and are written back as those same strings.
 * - Keys discovered inside a script (a user's sessions from their index) are built from
 *   the user's key base, so they carry the user's hash tag and live in the declared slot.
 */

export const LUA_PRELUDE = `
local INLINE = ARGV[1] == '1'
local ORIGIN = ARGV[2]
local MAXLEN = ARGV[3]
local DENIES = {}
local EVENTS = {}
local function A(i) return ARGV[i + 3] end
local function num(v) if v == nil or v == false or v == '' then return nil end return tonumber(v) end
local function opt(v) if v == '' then return nil end return v end

local function load(key)
  local f = redis.call('HGETALL', key)
  if #f == 0 then return nil end
  local t = {}
  for i = 1, #f, 2 do t[f[i]] = f[i + 1] end
  return t
end

local function flat(t)
  local out = {}
  for k, v in pairs(t) do out[#out + 1] = k; out[#out + 1] = v end
  return out
end

local function deny(id, exp) DENIES[#DENIES + 1] = id; DENIES[#DENIES + 1] = exp end
local function event(e) EVENTS[#EVENTS + 1] = e end

-- Writes the collected effects: denylist entries keep the later expiry (ZADD GT), and every
-- event, denials included, goes to the log in the order it happened.
local function apply(denyKey, streamKey)
  for i = 1, #EVENTS do
    redis.call('XADD', streamKey, 'MAXLEN', '~', MAXLEN, '*', 'o', ORIGIN, unpack(EVENTS[i]))
  end
  for i = 1, #DENIES, 2 do
    redis.call('ZADD', denyKey, 'GT', DENIES[i + 1], DENIES[i])
    DENIES[i + 1] = redis.call('ZSCORE', denyKey, DENIES[i])
    redis.call('XADD', streamKey, 'MAXLEN', '~', MAXLEN, '*', 'o', ORIGIN,
      'k', 'denied', 'i', DENIES[i], 'e', DENIES[i + 1])
  end
end

local function finish(body)
  if INLINE then apply(KEYS[#KEYS - 1], KEYS[#KEYS]) end
  return { body, DENIES, EVENTS, INLINE and 1 or 0 }
end

-- The generation rule: a revoke-all bumps the user's generation; a session created before
-- it that was live at that moment is revoked even if the script never reached its record.
local function gen_of(genKey)
  local g = load(genKey)
  if g == nil then return { n = '0' } end
  return g
end

local function view(s, g)
  if s.revokedAt == nil and num(s.gen or '0') < num(g.n) and num(s.expiresAt) > num(g.at) then
    s.revokedAt = g.at
    s.revokedReason = g.reason
  end
  return s
end

local function live(s, now) return s.revokedAt == nil and num(s.expiresAt) > now end

local function revoke(key, s, reason, at, denyUntil)
  redis.call('HSET', key, 'revokedAt', at, 'revokedReason', reason)
  s.revokedAt = at
  s.revokedReason = reason
  event({ 'k', 'session_revoked', 's', s.id, 'u', s.userId, 'r', reason })
  deny('sid:' .. s.id, denyUntil)
end

local function sessions_of(base, idxKey, g)
  local out = {}
  for _, sid in ipairs(redis.call('ZRANGE', idxKey, 0, -1)) do
    local key = base .. 's:' .. sid
    local s = load(key)
    if s ~= nil then out[#out + 1] = { key = key, s = view(s, g) } end
  end
  return out
end

-- Reads a session insert from A(i): ttlAt, deviceId, createdAt, refresh hash, then the
-- session's field count and fields, then the refresh token's.
local function session_args(i)
  local a = { ttlAt = A(i), deviceId = opt(A(i + 1)), createdAt = A(i + 2), rtHash = A(i + 3) }
  local n = tonumber(A(i + 4))
  a.sfields = {}
  for j = 1, n do a.sfields[j] = A(i + 4 + j) end
  local m = tonumber(A(i + 5 + n))
  a.rfields = {}
  for j = 1, m do a.rfields[j] = A(i + 5 + n + j) end
  return a
end

-- KEYS of an insert: K.user, K.gen, K.idx, K.sess, K.rt, K.rs. Checks, then replaces the
-- device's live sessions, then writes. Returns the replaced session ids.
local function insert_session(base, K, a)
  if redis.call('EXISTS', K.user) == 0 then error('createSession: unknown user') end
  if redis.call('EXISTS', K.sess) == 1 then error('createSession: session id already exists') end
  if redis.call('EXISTS', K.rt) == 1 then error('refresh token already exists') end
  local g = gen_of(K.gen)
  local replaced = {}
  if a.deviceId ~= nil then
    for _, e in ipairs(sessions_of(base, K.idx, g)) do
      if e.s.deviceId == a.deviceId and live(e.s, num(a.createdAt)) then
        -- The old session's JWTs can live no longer than the session itself.
        revoke(e.key, e.s, 'device_replaced', a.createdAt, e.s.expiresAt)
        replaced[#replaced + 1] = e.s.id
      end
    end
  end
  redis.call('HSET', K.sess, 'gen', g.n, unpack(a.sfields))
  redis.call('PEXPIREAT', K.sess, a.ttlAt)
  redis.call('ZADD', K.idx, a.createdAt, redis.call('HGET', K.sess, 'id'))
  redis.call('HSET', K.rt, unpack(a.rfields))
  redis.call('PEXPIREAT', K.rt, a.ttlAt)
  redis.call('SADD', K.rs, a.rtHash)
  redis.call('PEXPIREAT', K.rs, a.ttlAt)
  return replaced
end

-- Marks every unspent refresh token of a session spent without successor (superseded).
local function spend_unspent(base, rsKey, now)
  for _, hash in ipairs(redis.call('SMEMBERS', rsKey)) do
    local key = base .. 'r:' .. hash
    if redis.call('EXISTS', key) == 1 and redis.call('HEXISTS', key, 'spentAt') == 0 then
      redis.call('HSET', key, 'spentAt', now)
    end
  end
end

-- A new refresh token of an existing session; its expiry is clamped to the session's cap,
-- and Redis may drop it when it drops the session (the session key's own expiry time).
local function insert_refresh(sessKey, rtKey, rsKey, s, hash, createdAt, expiresAt)
  if num(expiresAt) > num(s.maxExpiresAt) then expiresAt = s.maxExpiresAt end
  redis.call('HSET', rtKey, 'hash', hash, 'sessionId', s.id, 'createdAt', createdAt, 'expiresAt', expiresAt)
  local at = redis.call('PEXPIRETIME', sessKey)
  if at > 0 then redis.call('PEXPIREAT', rtKey, at) end
  redis.call('SADD', rsKey, hash)
end

-- Extends a session within its cap and, for an upgraded session, replaces its token digest.
-- Returns the previous digest when it changed (its index entry is then stale).
local function extend(key, s, expiresAt, tokenHash)
  if num(expiresAt) > num(s.maxExpiresAt) then expiresAt = s.maxExpiresAt end
  redis.call('HSET', key, 'expiresAt', expiresAt)
  s.expiresAt = expiresAt
  local old = false
  if s.tokenType == 'session' and tokenHash ~= nil then
    if s.sessionTokenHash ~= nil and s.sessionTokenHash ~= tokenHash then old = s.sessionTokenHash end
    redis.call('HSET', key, 'sessionTokenHash', tokenHash)
    s.sessionTokenHash = tokenHash
  end
  event({ 'k', 'session_updated', 's', s.id })
  return old
end
`;
