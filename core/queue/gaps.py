"""Unblocking a user whose earlier message was lost from the stream.

Per-user order (``TRY_START``) makes a message wait until the user's previous seq is finished. If
that previous entry is gone — deleted from the stream by hand, or lost with the last writes of a
failed-over or crashed Redis while a later message survived — nothing would ever finish it and
every later message of that shopper would wait forever (the counters live for 30 days).

A worker whose entry has waited for ``gap_check_after_s`` (far longer than a dead consumer's
entries take to be reclaimed) asks ``SKIP_LOST`` whether the missing seqs still exist. They do if
any of the user's entries with a smaller seq is still pending in the consumer group: every entry
older than a delivered one was delivered too (one stream per user, read in order), and a finished
or deferred one has moved ``done`` already. If none is pending and nobody holds the user's lease,
those seqs are lost: ``done`` moves to just before the oldest waiting entry, the loss is logged as
an error (``queue.lost_messages_skipped``, with how many), and the user's messages flow again.
When the pending list is too long to look through, nothing is skipped (checked again later).
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import ResponseError

from core.queue.entry import Entry
from core.queue.stream import COUNTER_TTL_S

MAX_PENDING_SCAN = 2000  # pending entries of a shard looked through at most (a Lua loop in Redis)

# KEYS: done, lease, stream. ARGV: group, platform, user_id, blocked seq, max_scan, counter_ttl_s
# Returns {verdict, first skipped seq, last skipped seq}: 'skipped', 'present' (an earlier entry is
# still pending), 'busy' (someone holds the user's lease), 'moved' (done caught up meanwhile) or
# 'unknown' (too many pending entries to be sure).
SKIP_LOST = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {'busy', 0, 0} end
local done = tonumber(redis.call('GET', KEYS[1]) or '0')
local blocked = tonumber(ARGV[4])
if blocked <= done + 1 then return {'moved', 0, 0} end
local pending = redis.call('XPENDING', KEYS[3], ARGV[1], '-', '+', tonumber(ARGV[5]))
if #pending >= tonumber(ARGV[5]) then return {'unknown', 0, 0} end
local lowest = blocked
for _, p in ipairs(pending) do
  local found = redis.call('XRANGE', KEYS[3], p[1], p[1])
  if found[1] then
    local f = found[1][2]
    local platform, user, seq
    for i = 1, #f, 2 do
      if f[i] == 'platform' then platform = f[i + 1]
      elseif f[i] == 'user_id' then user = f[i + 1]
      elseif f[i] == 'seq' then seq = tonumber(f[i + 1]) end
    end
    if platform == ARGV[2] and user == ARGV[3] and seq and seq > done and seq < lowest then lowest = seq end
  end
end
if lowest == done + 1 then return {'present', 0, 0} end
redis.call('SET', KEYS[1], lowest - 1, 'EX', ARGV[6])
return {'skipped', done + 1, lowest - 1}
"""


class LostEntryRepair:
    """``await repair.check(entry)`` for an entry that has waited too long for its predecessor."""

    def __init__(self, queue: Any, *, max_scan: int = MAX_PENDING_SCAN) -> None:
        self.queue = queue
        self.max_scan = max_scan
        self._script = queue.redis.register_script(SKIP_LOST)

    async def check(self, entry: Entry) -> tuple[str, int]:
        """(verdict, number of lost seqs skipped); see ``SKIP_LOST`` for the verdicts."""
        _, done_key, lease_key = self.queue._user_keys(entry.shard, entry.platform, entry.user_id)
        try:
            async with self.queue._call("skip lost"):
                verdict, first, last = await self._script(
                    keys=[done_key, lease_key, self.queue.keys.stream(entry.shard)],
                    args=[self.queue.group, entry.platform, entry.user_id, entry.seq, self.max_scan,
                          COUNTER_TTL_S])
        except ResponseError:  # e.g. NOGROUP while Redis comes back empty: decide later
            return "unknown", 0
        return str(verdict), (int(last) - int(first) + 1) if verdict == "skipped" else 0
