/**
 * The store's Lua scripts, one per operation that reads before it writes or touches more
 * than one key. Each runs atomically on the Redis that owns its keys' slot: the user
 * scripts on the user's slot (hash tag `{u:<id>}`), the deployment scripts on `{d}`.
 * See `redis-lua.ts` for the conventions they share (arguments, effects, the generation rule).
 */

import { createHash } from "node:crypto";
import { LUA_PRELUDE } from "./redis-lua.js";

export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

function script(name: string, body: string): Script {
  const source = `${LUA_PRELUDE}\n${body}`;
  return { name, source, sha: createHash("sha1").update(source).digest("hex") };
}

/** KEYS: user, gen, idx, sess, rt, rs. A: base, then the insert (see `session_args`). */
export const CREATE_SESSION = script(
  "create_session",
  `
local K = { user = KEYS[1], gen = KEYS[2], idx = KEYS[3], sess = KEYS[4], rt = KEYS[5], rs = KEYS[6] }
return finish(insert_session(A(1), K, session_args(2)))
`,
);

/** KEYS: sess, gen. Returns the session (flat), with the generation rule applied, or nil. */
export const READ_SESSION = script(
  "read_session",
  `
local s = load(KEYS[1])
if s == nil then return false end
return flat(view(s, gen_of(KEYS[2])))
`,
);

/** KEYS: idx, gen. A: base. Every session of the user (flat each). */
export const LIST_SESSIONS = script(
  "list_sessions",
  `
local out = {}
for _, e in ipairs(sessions_of(A(1), KEYS[1], gen_of(KEYS[2]))) do out[#out + 1] = flat(e.s) end
return out
`,
);

/** KEYS: sess, gen. A: at. Only forward, never on a revoked or missing session. */
export const TOUCH = script(
  "touch",
  `
local s = load(KEYS[1])
if s == nil then return 0 end
view(s, gen_of(KEYS[2]))
if s.revokedAt ~= nil or num(A(1)) <= num(s.lastSeenAt) then return 0 end
redis.call('HSET', KEYS[1], 'lastSeenAt', A(1))
return 1
`,
);

/** KEYS: sess, gen. A: now, field, value[, field, value]. Updates a live session. */
export const UPDATE_SESSION = script(
  "update_session",
  `
local s = load(KEYS[1])
if s == nil then return finish(false) end
view(s, gen_of(KEYS[2]))
if not live(s, num(A(1))) then return finish(false) end
local i = 2
while A(i) ~= nil do
  redis.call('HSET', KEYS[1], A(i), A(i + 1))
  s[A(i)] = A(i + 1)
  i = i + 2
end
event({ 'k', 'session_updated', 's', s.id })
return finish(flat(s))
`,
);

/** KEYS: gen, sess1..sessN. A: reason, now, denyUntil, N. Revokes those not yet revoked. */
export const REVOKE_SESSIONS = script(
  "revoke_sessions",
  `
local g = gen_of(KEYS[1])
local n = tonumber(A(4))
local out = {}
for i = 1, n do
  local key = KEYS[1 + i]
  local s = load(key)
  if s ~= nil then
    view(s, g)
    if s.revokedAt == nil then
      revoke(key, s, A(1), A(2), A(3))
      out[#out + 1] = flat(s)
    end
  end
end
return finish(out)
`,
);

/**
 * KEYS: user, gen, idx, links. A: base, mode (revoke|disable|delete), reason, now, denyUntil,
 * keepSessionId, userId. The revoke-all: the generation bump is the decisive O(1) step; the
 * walk over the index marks each record and reports it. disable and delete also change
 * the user; delete leaves session tombstones without data and returns what the caller
 * must clean in other slots.
 */
export const REVOKE_USER = script(
  "revoke_user",
  `
local base, mode, reason, now, denyUntil, keep = A(1), A(2), A(3), A(4), A(5), opt(A(6))
local user = load(KEYS[1])
if mode ~= 'revoke' and user == nil then return finish(false) end
local g = gen_of(KEYS[2])
local all = sessions_of(base, KEYS[3], g)
if user == nil and #all == 0 then return finish({ {}, {} }) end
local n = redis.call('HINCRBY', KEYS[2], 'n', 1)
redis.call('HSET', KEYS[2], 'at', now, 'reason', reason)
local out = {}
for _, e in ipairs(all) do
  if e.s.id == keep then
    redis.call('HSET', e.key, 'gen', n)
  elseif live(e.s, num(now)) then
    revoke(e.key, e.s, reason, now, denyUntil)
    out[#out + 1] = flat(e.s)
  end
end
if #all > 0 then
  event({ 'k', 'user_sessions_revoked', 'u', A(7), 'r', reason, 'keep', keep or '' })
end
local extra = {}
if mode == 'disable' then
  redis.call('HSETNX', KEYS[1], 'disabledAt', now)
  event({ 'k', 'user_updated', 'u', A(7) })
elseif mode == 'delete' then
  for _, e in ipairs(all) do redis.call('HSET', e.key, 'data', 'null') end
  local links = redis.call('SMEMBERS', KEYS[4])
  for _, hash in ipairs(links) do redis.call('DEL', base .. 'l:' .. hash) end
  redis.call('DEL', KEYS[4], KEYS[1])
  event({ 'k', 'user_updated', 'u', A(7) })
  extra = { user.usernameKey, links }
end
return finish({ out, extra })
`,
);

/**
 * KEYS: jti, sess, gen, rtNew, rs. A: base, now, jtiExpiresAt, jtiTtlAt, sessionTokenHash,
 * metadata JSON ('' keeps it), (unused), rt hash, rt createdAt, rt expiresAt, jti id.
 */
export const UPGRADE = script(
  "upgrade",
  `
local base, now = A(1), num(A(2))
if redis.call('EXISTS', KEYS[1]) == 1 then return finish({ 'jti_used' }) end
local s = load(KEYS[2])
if s == nil then return finish({ 'not_live' }) end
view(s, gen_of(KEYS[3]))
if not live(s, now) then return finish({ 'not_live' }) end
if s.tokenType == 'session' then return finish({ 'already_upgraded' }) end
if redis.call('EXISTS', KEYS[4]) == 1 then error('refresh token already exists') end
redis.call('SET', KEYS[1], A(3), 'PXAT', A(4))
deny(A(11), A(3))
spend_unspent(base, KEYS[5], A(2))
insert_refresh(KEYS[2], KEYS[4], KEYS[5], s, A(8), A(9), A(10))
redis.call('HSET', KEYS[2], 'tokenType', 'session', 'sessionTokenHash', A(5))
s.tokenType = 'session'
s.sessionTokenHash = A(5)
if A(6) ~= '' then
  redis.call('HSET', KEYS[2], 'metadata', A(6))
  s.metadata = A(6)
end
event({ 'k', 'session_updated', 's', s.id })
return finish({ 'upgraded', flat(s) })
`,
);

/**
 * KEYS: rtOld, sess, gen, rtNew, rs. A: base, now, sessionId ('' any), successor hash,
 * successor createdAt, successor expiresAt, sealed successor, sessionTokenHash ('' none),
 * expiresAt, (unused). Compare-and-spend; returns kind, session, spent-token facts, the stale
 * token digest.
 */
export const ROTATE = script(
  "rotate",
  `
local base, now = A(1), num(A(2))
local t = load(KEYS[1])
local s = load(KEYS[2])
if t == nil or s == nil or t.sessionId ~= s.id then return finish({ 'not_found' }) end
if A(3) ~= '' and t.sessionId ~= A(3) then return finish({ 'not_found' }) end
view(s, gen_of(KEYS[3]))
if s.revokedAt ~= nil then return finish({ 'revoked', flat(s) }) end
-- Spent before expired: a replay must be recognised as one however late it comes.
if t.spentAt ~= nil then
  local spent = '0'
  if t.successorHash ~= nil and redis.call('HEXISTS', base .. 'r:' .. t.successorHash, 'spentAt') == 1 then
    spent = '1'
  end
  return finish({ 'spent', flat(s), { t.hash, t.sessionId, t.spentAt, t.sealedSuccessor or '', spent } })
end
if num(t.expiresAt) <= now or num(s.expiresAt) <= now then return finish({ 'expired', flat(s) }) end
if redis.call('EXISTS', KEYS[4]) == 1 then error('refresh token already exists') end
redis.call('HSET', KEYS[1], 'spentAt', A(2), 'successorHash', A(4), 'sealedSuccessor', A(7))
insert_refresh(KEYS[2], KEYS[4], KEYS[5], s, A(4), A(5), A(6))
local stale = extend(KEYS[2], s, A(9), opt(A(8)))
return finish({ 'rotated', flat(s), false, stale })
`,
);

/** KEYS: sess, gen, rtNew, rs. A: base, now, rt hash, rt createdAt, rt expiresAt, sessionTokenHash, expiresAt, (unused). */
export const REISSUE = script(
  "reissue",
  `
local base, now = A(1), num(A(2))
local s = load(KEYS[1])
if s == nil then return finish({ false }) end
view(s, gen_of(KEYS[2]))
if not live(s, now) then return finish({ false }) end
if redis.call('EXISTS', KEYS[3]) == 1 then error('refresh token already exists') end
spend_unspent(base, KEYS[4], A(2))
insert_refresh(KEYS[1], KEYS[3], KEYS[4], s, A(3), A(4), A(5))
local stale = extend(KEYS[1], s, A(7), opt(A(6)))
return finish({ flat(s), stale })
`,
);

/** KEYS: user, link, links. A: ttlAt, hash, fields... */
export const CREATE_LINK = script(
  "create_link",
  `
if redis.call('EXISTS', KEYS[1]) == 0 then error('createLink: unknown user') end
local fields = {}
local i = 3
while A(i) ~= nil do fields[#fields + 1] = A(i); i = i + 1 end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('PEXPIREAT', KEYS[2], A(1))
redis.call('SADD', KEYS[3], A(2))
return 1
`,
);

/** KEYS: link, user, gen, idx, sess, rt, rs. A: base, now, then the insert. */
export const REDEEM_LINK = script(
  "redeem_link",
  `
local link = load(KEYS[1])
if link == nil then return finish({ 'not_found' }) end
if link.consumedAt ~= nil then return finish({ 'used' }) end
if num(link.expiresAt) <= num(A(2)) then return finish({ 'expired' }) end
local K = { user = KEYS[2], gen = KEYS[3], idx = KEYS[4], sess = KEYS[5], rt = KEYS[6], rs = KEYS[7] }
-- The insert checks before it writes; consuming comes after it, so a clash consumes nothing.
local replaced = insert_session(A(1), K, session_args(3))
redis.call('HSET', KEYS[1], 'consumedAt', A(2))
link.consumedAt = A(2)
return finish({ 'redeemed', flat(link), replaced })
`,
);

/** KEYS: user. A: mode (password|enable), value. Emits user_updated. */
export const UPDATE_USER = script(
  "update_user",
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return finish(0) end
if A(1) == 'password' then
  redis.call('HSET', KEYS[1], 'passwordHash', A(2))
else
  redis.call('HDEL', KEYS[1], 'disabledAt')
end
event({ 'k', 'user_updated', 'u', redis.call('HGET', KEYS[1], 'id') })
return finish(1)
`,
);

/**
 * KEYS: gen, idx, links. A: base, now, cutoff. Deletes the user's sessions and links that
 * ended before the cutoff and refresh tokens expired at now; returns the count and the
 * index entries (in other slots) the caller deletes.
 */
export const PURGE_USER = script(
  "purge_user",
  `
local base, now, cutoff = A(1), num(A(2)), num(A(3))
local removed = 0
local sids, rts, tokens, links = {}, {}, {}, {}
for _, e in ipairs(sessions_of(base, KEYS[2], gen_of(KEYS[1]))) do
  local s = e.s
  local rsKey = base .. 'rs:' .. s.id
  local ended = num(s.expiresAt) <= cutoff or (s.revokedAt ~= nil and num(s.revokedAt) <= cutoff)
  for _, hash in ipairs(redis.call('SMEMBERS', rsKey)) do
    local key = base .. 'r:' .. hash
    local exp = num(redis.call('HGET', key, 'expiresAt'))
    if ended or exp == nil or exp <= now then
      if redis.call('DEL', key) == 1 then removed = removed + 1 end
      redis.call('SREM', rsKey, hash)
      rts[#rts + 1] = hash
    end
  end
  if ended then
    redis.call('DEL', e.key, rsKey)
    redis.call('ZREM', KEYS[2], s.id)
    removed = removed + 1
    sids[#sids + 1] = s.id
    if s.sessionTokenHash ~= nil then tokens[#tokens + 1] = s.sessionTokenHash end
  end
end
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local key = base .. 'l:' .. hash
  local exp = num(redis.call('HGET', key, 'expiresAt'))
  if exp == nil or exp <= cutoff then
    if redis.call('DEL', key) == 1 then removed = removed + 1 end
    redis.call('SREM', KEYS[3], hash)
    links[#links + 1] = hash
  end
end
-- Index members whose records Redis already expired.
for _, sid in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', base .. 's:' .. sid) == 0 then redis.call('ZREM', KEYS[2], sid) end
end
return { removed, sids, rts, tokens, links }
`,
);

// Deployment-wide scripts: every key carries the `{d}` tag, so each runs on one slot.

/** KEYS: deny, stream. A: nDenies, id, exp..., then events as (nFields, fields...)... */
export const APPLY_EFFECTS = script(
  "apply_effects",
  `
local i = 1
local n = tonumber(A(i))
for j = 1, n do deny(A(i + 2 * j - 1), A(i + 2 * j)) end
i = i + 2 * n + 1
while A(i) ~= nil do
  local m = tonumber(A(i))
  local e = {}
  for j = 1, m do e[j] = A(i + j) end
  event(e)
  i = i + m + 1
end
return finish(false)
`,
);

/** KEYS: byname, users. A: usernameKey, id. Atomic on the username: HSETNX decides. */
export const REGISTER_USER = script(
  "register_user",
  `
if redis.call('HSETNX', KEYS[1], A(1), A(2)) == 0 then return 0 end
redis.call('ZADD', KEYS[2], A(2), A(2))
return 1
`,
);

/**
 * KEYS: byname, users, identities, the user's identity set. A: usernameKey, id. Frees the
 * username only if it is still this user's; unlinks the user's identities.
 */
export const UNREGISTER_USER = script(
  "unregister_user",
  `
if redis.call('HGET', KEYS[1], A(1)) == A(2) then redis.call('HDEL', KEYS[1], A(1)) end
redis.call('ZREM', KEYS[2], A(2))
for _, field in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  local v = redis.call('HGET', KEYS[3], field)
  if v and string.match(v, '^(%d+):') == A(2) then redis.call('HDEL', KEYS[3], field) end
end
redis.call('DEL', KEYS[4])
return 1
`,
);

/**
 * KEYS: byname, users, identities, the new user's identity set. A: usernameKey, id,
 * identity field, "id:createdAt". Registers the user and links the identity, or neither.
 */
export const REGISTER_IDENTITY_USER = script(
  "register_identity_user",
  `
if redis.call('HEXISTS', KEYS[3], A(3)) == 1 then return 0 end
if redis.call('HSETNX', KEYS[1], A(1), A(2)) == 0 then return 0 end
redis.call('ZADD', KEYS[2], A(2), A(2))
redis.call('HSET', KEYS[3], A(3), A(4))
redis.call('SADD', KEYS[4], A(3))
return 1
`,
);

/**
 * KEYS: users, identities, the user's identity set. A: id, identity field, "id:createdAt".
 * The users index is in the same slot, so a user deleted before this runs is seen as gone.
 */
export const LINK_IDENTITY = script(
  "link_identity",
  `
if not redis.call('ZSCORE', KEYS[1], A(1)) then return { 'no_user' } end
local existing = redis.call('HGET', KEYS[2], A(2))
if existing then return { 'taken', existing } end
redis.call('HSET', KEYS[2], A(2), A(3))
redis.call('SADD', KEYS[3], A(2))
return { 'linked' }
`,
);

/** KEYS: identities, the base of identity-set keys (its own slot's). A: identity field. */
export const UNLINK_IDENTITY = script(
  "unlink_identity",
  `
local v = redis.call('HGET', KEYS[1], A(1))
if not v then return 0 end
redis.call('HDEL', KEYS[1], A(1))
redis.call('SREM', KEYS[2] .. string.match(v, '^(%d+):'), A(1))
return 1
`,
);

/** KEYS: nonces, nonceExp. A: key, expiresAt, now. */
export const REMEMBER_NONCE = script(
  "remember_nonce",
  `
local seen = num(redis.call('HGET', KEYS[1], A(1)))
if seen ~= nil and seen > num(A(3)) then return 0 end
redis.call('HSET', KEYS[1], A(1), A(2))
redis.call('ZADD', KEYS[2], A(2), A(1))
return 1
`,
);

/** KEYS: failures, failureAt. A: key, now, forgetAfterMs. Value is "count:lastFailureAt". */
export const RECORD_FAILURE = script(
  "record_failure",
  `
local v = redis.call('HGET', KEYS[1], A(1))
local count = 0
if v then
  local c, last = string.match(v, '^(%d+):(.+)$')
  if num(A(2)) - num(last) <= num(A(3)) then count = tonumber(c) end
end
count = count + 1
local value = string.format('%d', count) .. ':' .. A(2)
redis.call('HSET', KEYS[1], A(1), value)
redis.call('ZADD', KEYS[2], A(2), A(1))
return value
`,
);

/** KEYS: failures, failureAt. A: key. */
export const CLEAR_FAILURES = script(
  "clear_failures",
  `
redis.call('HDEL', KEYS[1], A(1))
redis.call('ZREM', KEYS[2], A(1))
return 1
`,
);

/**
 * KEYS: logData, logIds, logAt, the user's log index (`log:user:<id>`). A: id, body, at,
 * "1" when the event has a user (then its id goes in the user's index too).
 */
export const APPEND_EVENT = script(
  "append_event",
  `
if redis.call('HSETNX', KEYS[1], A(1), A(2)) == 0 then error('appendSecurityEvent: id already exists') end
redis.call('ZADD', KEYS[2], 0, A(1))
redis.call('ZADD', KEYS[3], A(3), A(1))
if A(4) == '1' then redis.call('ZADD', KEYS[4], 0, A(1)) end
return 1
`,
);

/**
 * KEYS: logData, logIds, logAt, the base of the users' log indexes (`log:user:`, in the
 * same slot). A: before, limit. Each event leaves its user's index with it.
 */
export const PRUNE_EVENTS = script(
  "prune_events",
  `
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. A(1), 'LIMIT', 0, tonumber(A(2)))
for _, id in ipairs(ids) do
  local body = redis.call('HGET', KEYS[1], id)
  if body then
    local ok, event = pcall(cjson.decode, body)
    if ok and type(event.userId) == 'number' then
      redis.call('ZREM', KEYS[4] .. string.format('%d', event.userId), id)
    end
  end
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
end
return #ids
`,
);

/** KEYS: logData, the base of the users' log indexes. A: event ids. Puts each in its user's index (an upgrade's backfill). */
export const INDEX_EVENTS = script(
  "index_events",
  `
local n = 0
for i = 1, #ARGV - 3 do
  local body = redis.call('HGET', KEYS[1], A(i))
  if body then
    local ok, event = pcall(cjson.decode, body)
    if ok and type(event.userId) == 'number' then
      redis.call('ZADD', KEYS[2] .. string.format('%d', event.userId), 0, A(i))
      n = n + 1
    end
  end
end
return n
`,
);

/** KEYS: uniq, due. A: base, count, then per delivery id, eventId, endpoint, payload, nextAttemptAt, createdAt. */
export const ENQUEUE_WEBHOOKS = script(
  "enqueue_webhooks",
  `
local base, n = A(1), tonumber(A(2))
local fresh = {}
for j = 0, n - 1 do
  local i = 3 + 6 * j
  local d = { id = A(i), eventId = A(i + 1), endpoint = A(i + 2), payload = A(i + 3), nextAttemptAt = A(i + 4), createdAt = A(i + 5) }
  if redis.call('HEXISTS', KEYS[1], d.eventId .. ' ' .. d.endpoint) == 0 then
    if redis.call('EXISTS', base .. 'wh:' .. d.id) == 1 then error('enqueueWebhooks: delivery id already exists') end
    fresh[#fresh + 1] = d
  end
end
for _, d in ipairs(fresh) do
  if redis.call('HSETNX', KEYS[1], d.eventId .. ' ' .. d.endpoint, d.id) == 1 then
    redis.call('HSET', base .. 'wh:' .. d.id, 'id', d.id, 'eventId', d.eventId, 'endpoint', d.endpoint,
      'payload', d.payload, 'attempts', 0, 'nextAttemptAt', d.nextAttemptAt, 'createdAt', d.createdAt)
    redis.call('ZADD', KEYS[2], d.nextAttemptAt, d.id)
  end
end
return 1
`,
);

/** KEYS: due. A: base, now, limit, leasedUntil. */
export const CLAIM_WEBHOOKS = script(
  "claim_webhooks",
  `
local base = A(1)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', A(2), 'LIMIT', 0, tonumber(A(3)))
local out = {}
for _, id in ipairs(ids) do
  local key = base .. 'wh:' .. id
  redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'nextAttemptAt', A(4))
  redis.call('ZADD', KEYS[1], A(4), id)
  out[#out + 1] = redis.call('HGETALL', key)
end
return out
`,
);

/** KEYS: uniq, due. A: base, id, mode (complete|retry), nextAttemptAt. */
export const SETTLE_WEBHOOK = script(
  "settle_webhook",
  `
local key = A(1) .. 'wh:' .. A(2)
local d = load(key)
if d == nil then return 0 end
if A(3) == 'complete' then
  redis.call('HDEL', KEYS[1], d.eventId .. ' ' .. d.endpoint)
  redis.call('ZREM', KEYS[2], A(2))
  redis.call('DEL', key)
else
  redis.call('HSET', key, 'nextAttemptAt', A(4))
  redis.call('ZADD', KEYS[2], A(4), A(2))
end
return 1
`,
);

/** KEYS: kids, deny, stream. A: base, mode (save|delete), kid, createdAt, active, fields... */
export const SIGNING_KEY = script(
  "signing_key",
  `
local base, kid = A(1), A(3)
if A(2) == 'delete' then
  if redis.call('SREM', KEYS[1], kid) == 0 then return finish(0) end
  redis.call('DEL', base .. 'key:' .. kid)
  event({ 'k', 'keys_changed' })
  return finish(1)
end
if A(5) == '1' then
  for _, other in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    local key = base .. 'key:' .. other
    if other ~= kid and redis.call('HEXISTS', key, 'retiredAt') == 0 then
      redis.call('HSET', key, 'retiredAt', A(4))
    end
  end
end
local fields = {}
local i = 6
while A(i) ~= nil do fields[#fields + 1] = A(i); i = i + 1 end
redis.call('DEL', base .. 'key:' .. kid)
redis.call('HSET', base .. 'key:' .. kid, unpack(fields))
redis.call('SADD', KEYS[1], kid)
event({ 'k', 'keys_changed' })
return finish(1)
`,
);

/** KEYS: deny, nonces, nonceExp, failures, failureAt. A: now, cutoff. */
export const PURGE_DEPLOYMENT = script(
  "purge_deployment",
  `
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', A(1))
for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', A(1))) do
  redis.call('HDEL', KEYS[2], key)
  removed = removed + 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', A(1))
for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', A(2))) do
  redis.call('HDEL', KEYS[4], key)
  removed = removed + 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', A(2))
return removed
`,
);
