"""Lua scripts of the queue, so each state change is one atomic round trip to Redis.

Every script only touches keys passed in KEYS, and all of them carry the same ``{q<N>}`` hash tag
(see core/storage/keys.py), so the scripts run unchanged on Redis Cluster. redis-py's
``register_script`` sends EVALSHA and falls back to loading the script on NOSCRIPT.

Per-user counters: ``seq`` (last sequence number given out by enqueue) and ``done`` (last sequence
number finished by a worker). Both expire after ``counter_ttl`` seconds without use so idle users do
not keep keys forever; when ``seq`` starts again from 1 the stale ``done`` is dropped with it.
"""

from __future__ import annotations

# The common end of ENQUEUE and PROMOTE: give the message the user's next seq (a fresh counter
# drops a stale ``done`` with it) and append it to the stream.
# KEYS: _, seq, done, stream. ARGV: _, _, counter_ttl_s, data, turn_id, received_at, platform, user_id
_APPEND_AT_USER_TAIL = """
local seq = redis.call('INCR', KEYS[2])
if seq == 1 then
  redis.call('DEL', KEYS[3])
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('XADD', KEYS[4], '*', 'data', ARGV[4], 'seq', seq, 'turn_id', ARGV[5],
           'received_at', ARGV[6], 'platform', ARGV[7], 'user_id', ARGV[8])
return seq
"""

# KEYS: dedupe, seq, done, stream[, legacy dedupe]
# ARGV: dedupe_ttl_s, max_len, counter_ttl_s, data, turn_id, received_at, platform, user_id
# Returns the new seq; nil for a duplicate; -1 when the stream is full (nothing stored).
# The legacy dedupe key is the mark a version before issue 14 set (MsgId only): a push it stored
# and WeChat retries after the upgrade is still a duplicate. It is only read, so none exist one
# dedupe_ttl_s after the upgrade.
ENQUEUE = """
if redis.call('EXISTS', KEYS[1]) == 1 or (KEYS[5] and redis.call('EXISTS', KEYS[5]) == 1) then
  return false
end
if redis.call('XLEN', KEYS[4]) >= tonumber(ARGV[2]) then
  return -1
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
""" + _APPEND_AT_USER_TAIL

# KEYS: done, lease
# ARGV: seq, lease token, lease_ms
# Returns 'done' (seq already finished), 'wait' (an earlier seq is unfinished), 'busy' (another
# worker holds the user's lease) or 'go' (lease taken or renewed; handle the entry now).
TRY_START = """
local done = tonumber(redis.call('GET', KEYS[1]) or '0')
local seq = tonumber(ARGV[1])
if seq <= done then
  return 'done'
end
if seq > done + 1 then
  return 'wait'
end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[2] then
  return 'busy'
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 'go'
"""

# KEYS: done, lease, stream
# ARGV: seq, lease token ('' = none), group, entry id, counter_ttl_s
# Acknowledges the entry and, if it was still pending, marks seq finished (done never moves
# backwards); frees the lease. An entry that is no longer pending was finished elsewhere — or its
# stream is gone (keys deleted, Redis restarted empty) and ``seq`` may already count again from 1
# for new messages: moving ``done`` then would make the next new message look finished.
# Returns the number of entries acknowledged (0 = not pending any more).
FINISH = """
local acked = redis.call('XACK', KEYS[3], ARGV[3], ARGV[4])
if acked == 1 then
  local done = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tonumber(ARGV[1]) > done then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[5])
  else
    redis.call('EXPIRE', KEYS[1], ARGV[5])
  end
end
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('DEL', KEYS[2])
end
return acked
"""

# KEYS: deferred zset, done, lease, stream
# ARGV: due_ms, member, seq, lease token ('' = none), group, entry id, counter_ttl_s
# FINISH plus storing the payload in the shard's deferred set, all or nothing. If the entry was
# no longer pending (finished elsewhere), nothing is scheduled. Returns 1 if scheduled, else 0.
DEFER = """
local acked = redis.call('XACK', KEYS[4], ARGV[5], ARGV[6])
if acked == 1 then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
  local done = tonumber(redis.call('GET', KEYS[2]) or '0')
  if tonumber(ARGV[3]) > done then
    redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[7])
  end
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then
  redis.call('DEL', KEYS[3])
end
return acked
"""

# KEYS: deferred zset, seq, done, stream
# ARGV: member, max_len, counter_ttl_s, data, turn_id, received_at, platform, user_id
# Moves one due deferred payload back into the stream with a new seq at the user's tail.
# Returns the new seq; nil if another worker moved it already; -1 if the stream is full (kept).
PROMOTE = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then
  return false
end
if redis.call('XLEN', KEYS[4]) >= tonumber(ARGV[2]) then
  return -1
end
redis.call('ZREM', KEYS[1], ARGV[1])
""" + _APPEND_AT_USER_TAIL

# KEYS: lease
# ARGV: lease token, lease_ms
# Extends a lease only if we still hold it. Returns 1 if extended.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease
# ARGV: lease token
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
