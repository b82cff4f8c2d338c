"""Lua scripts run by Redis: each is one atomic step, which is what makes the CAS and leases safe.

Values travel as strings and are stored untouched; only the interaction list is decoded, because
cjson would re-encode numbers with 14 significant digits and an empty list as `{}`.
"""

# KEYS: agent hash, agent index set. ARGV: agent id, state, reason, since, interactions JSON,
# quality ("" for none), presence ("" for none). Returns the new version.
SET_AGENT = """
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'reason', ARGV[3], 'since', ARGV[4],
           'interactions', ARGV[5], 'quality', ARGV[6], 'presence', ARGV[7])
redis.call('SADD', KEYS[2], ARGV[1])
return redis.call('HINCRBY', KEYS[1], 'version', 1)
"""

# KEYS: agent hash. ARGV: expected state, new state, reason, since, interaction to add ("" for
# none), interaction to remove ("" for none), max interactions (0 for no limit).
# Returns the record as HGETALL pairs, or false when the condition fails. `presence` is left as
# it is: a reservation does not change what the agent chose.
TRANSITION = """
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur or cur ~= ARGV[1] then return false end
local raw = redis.call('HGET', KEYS[1], 'interactions') or '[]'
local ok, list = pcall(cjson.decode, raw)
if not ok or type(list) ~= 'table' then
  return redis.error_reply('LIVEDATA interactions of ' .. KEYS[1] .. ' is not a JSON list')
end
local max = tonumber(ARGV[7])
if max > 0 and #list >= max then return false end
local out = {}
local present = false
for _, ix in ipairs(list) do
  if ix ~= ARGV[6] then
    table.insert(out, ix)
    if ix == ARGV[5] then present = true end
  end
end
if ARGV[5] ~= '' and not present then table.insert(out, ARGV[5]) end
local enc = '[]'
if #out > 0 then enc = cjson.encode(out) end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'reason', ARGV[3], 'since', ARGV[4],
           'interactions', enc)
redis.call('HINCRBY', KEYS[1], 'version', 1)
return redis.call('HGETALL', KEYS[1])
"""

# TRANSITION behind a fence. KEYS: agent hash, lease hash. ARGV: as TRANSITION, then the
# caller's lease token. Unless that token is the lease's current one, returns the current
# token (0 when nobody holds the lease) and changes nothing: an integer, never a record or
# false, so the caller tells "fenced off" from "agent not in the expected state".
_FENCE = """
local held = redis.call('HGET', KEYS[2], 'token')
if held ~= ARGV[8] then return tonumber(held) or 0 end
"""
FENCED_TRANSITION = _FENCE + TRANSITION

# KEYS: queue hash, queue index set. ARGV: queue id, amount. Floors the count at zero.
DECR_WAITING = """
local n = tonumber(redis.call('HGET', KEYS[1], 'waiting') or '0') - tonumber(ARGV[2])
if n < 0 then n = 0 end
redis.call('HSET', KEYS[1], 'waiting', n)
redis.call('SADD', KEYS[2], ARGV[1])
return n
"""

# KEYS: lease hash, token counter. ARGV: holder, ttl ms.
# Free -> take it with a new token; held by the same holder -> extend; else false.
# Returns {token, pttl}.
# A new token is the counter + 1, or Redis's clock in microseconds when that is larger: a Redis
# that lost its data (restarted without persistence) would count again from 1, below the
# tokens the SQL store has already seen, and every node would be fenced off for good. The
# clock keeps tokens growing across such a restart (as long as it is not set back).
# Microseconds since 1970 are ~1.8e15, exact in Lua's doubles (2^53) and printed with %d.
ACQUIRE_LEASE = """
local holder = redis.call('HGET', KEYS[1], 'holder')
if not holder then
  local now = redis.call('TIME')
  local token = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
  local clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
  if clock > token then token = clock end
  token = string.format('%d', token)
  redis.call('SET', KEYS[2], token)
  redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', token)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {token, redis.call('PTTL', KEYS[1])}
end
if holder ~= ARGV[1] then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {tonumber(redis.call('HGET', KEYS[1], 'token')), redis.call('PTTL', KEYS[1])}
"""

# KEYS: lease hash. ARGV: holder, ttl ms. Extends only for the holder. Returns {token, pttl}.
RENEW_LEASE = """
if redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {tonumber(redis.call('HGET', KEYS[1], 'token')), redis.call('PTTL', KEYS[1])}
"""

# KEYS: lease hash. ARGV: holder. Deletes only for the holder. Returns 1 or 0.
RELEASE_LEASE = """
if redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""

# KEYS: lease hash. Returns {holder, token, pttl} or false.
LEASE_HOLDER = """
local holder = redis.call('HGET', KEYS[1], 'holder')
if not holder then return false end
return {holder, tonumber(redis.call('HGET', KEYS[1], 'token')), redis.call('PTTL', KEYS[1])}
"""
