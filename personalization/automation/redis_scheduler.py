"""The schedule in Redis (single or Cluster), claimed and published by Lua scripts.

See :mod:`personalization.automation.scheduler` for the keys and the claim/publish protocol.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from personalization.automation.action_record import (
    PART,
    ActionRecord,
    Claim,
    due_members,
    member_of,
    ms,
    split_member,
)
from personalization.automation.records_scheduler import RecordsScheduler
from personalization.store.keys import Keys
from personalization.store.redis_client import RedisClient, stream_ids_where
from personalization.store.redis_store import RedisStore

_CLAIM = """
local out = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, m in ipairs(out) do redis.call('ZADD', KEYS[2], ARGV[2], m) end
local room = tonumber(ARGV[3]) - #out
if room > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, room)
  for _, m in ipairs(due) do
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZADD', KEYS[2], ARGV[2], m)
    out[#out + 1] = m
  end
end
return out
"""

_APPEND = """
local out = {}
for i = 2, #ARGV, 3 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZREM', KEYS[1], ARGV[i])
    if ARGV[i + 2] ~= '' then
      local pid = string.sub(ARGV[i], string.find(ARGV[i], ':', 1, true) + 1)
      out[#out + 1] = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*',
                                 'profile_id', pid, 'action', ARGV[i + 2])
    else
      out[#out + 1] = ''
    end
  else
    out[#out + 1] = ''
  end
end
return out
"""

_MARK = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local status = cjson.decode(current)['status']
if status == 'pending' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
if status == 'sent' then return 2 end
return 0
"""
_MARK_SHA = hashlib.sha1(_MARK.encode()).hexdigest()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisScheduler(RecordsScheduler):
    """The schedule in Redis (single or Cluster); records in the :class:`RedisStore`."""

    def __init__(
        self,
        store: RedisStore,
        *,
        lease: timedelta = timedelta(seconds=60),
        record_ttl: timedelta | None = None,
        max_past: int = 100,
        prune_slack: int = 20,
        stream_maxlen: int = 100_000,
    ) -> None:
        super().__init__(store, lease=lease, record_ttl=record_ttl or store.profile_ttl,
                         prune_slack=prune_slack,
                         max_past=max_past)
        self.redis: RedisClient = store.redis
        self.keys: Keys = store.keys
        self.stream_maxlen = stream_maxlen
        self.stream_key = self.keys.shared("actions")
        # Dead letters of webhook deliveries before they moved to the delivery queue: erasure
        # still clears them.
        self.legacy_dead_key = self.keys.shared("actions", "dead")
        tag = "{" + self.stream_key + "}"
        self.schedule_key = self.keys.shared("schedule", tag)
        self.processing_key = self.keys.shared("processing", tag)

    async def schedule(self, records: Sequence[ActionRecord]) -> None:
        """As the shared version, in two round trips: the records with each person's record
        count, then the schedule (written after the records, so a claim always finds one)."""
        if not records:
            return
        people = sorted({r.profile_id for r in records if r.profile_id is not None})
        pipe = self.redis.pipeline(transaction=False)
        self._queue_writes(pipe, records)
        for profile_id in people:
            pipe.hlen(self.keys.of_profile(profile_id, PART))
        replies = await pipe.execute()
        await self._enqueue(due_members(records))
        counts = replies[len(replies) - len(people):]  # the HLENs come last
        for profile_id, count in zip(people, counts, strict=True):
            await self._prune(profile_id, int(count))

    async def _enqueue(self, members: Sequence[tuple[str, int]]) -> None:
        if members:
            await self.redis.zadd(self.schedule_key, dict(members))

    async def _dequeue(self, members: Sequence[str]) -> None:
        if members:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zrem(self.schedule_key, *members)
            pipe.zrem(self.processing_key, *members)
            await pipe.execute()

    async def claim(self, now: datetime, limit: int) -> list[Claim]:
        deadline = ms(now + self.lease)
        members: Any = await self.redis.eval(
            _CLAIM, 2, self.schedule_key, self.processing_key, ms(now), deadline, limit
        )
        return [Claim(*split_member(_text(m)), token=deadline) for m in members]

    async def _load(self, claims: Sequence[Claim]) -> list[ActionRecord | None]:
        pipe = self.redis.pipeline(transaction=False)
        for claim in claims:
            pipe.hget(self.keys.of_profile(claim.profile_id, PART), claim.action_id)
        replies = await pipe.execute()
        return [ActionRecord.model_validate_json(r) if r is not None else None for r in replies]

    async def _write(self, records: Sequence[ActionRecord]) -> None:
        if not records:
            return
        pipe = self.redis.pipeline(transaction=False)
        self._queue_writes(pipe, records)
        await pipe.execute()

    def _queue_writes(self, pipe: Any, records: Sequence[ActionRecord]) -> None:
        """Add the writes of ``records`` (each with its hash's expiry renewed) to ``pipe``."""
        ttl = max(1, int(self.record_ttl.total_seconds() * 1000))
        for record in records:
            assert record.profile_id is not None
            key = self.keys.of_profile(record.profile_id, PART)
            pipe.hset(key, record.action_id, orjson.dumps(record.document()))
            pipe.pexpire(key, ttl)  # only this module writes the actions hash: simply renewed

    async def _mark_sent(self, records: Sequence[ActionRecord]) -> list[bool]:
        """One script per record, atomic in the person's slot: mark it sent only if it is still
        pending there, so a cancellation or an erasure in between is never overwritten."""
        if not records:
            return []
        for attempt in range(2):
            pipe = self.redis.pipeline(transaction=False)
            for record in records:
                assert record.profile_id is not None
                key = self.keys.of_profile(record.profile_id, PART)
                payload = orjson.dumps(record.document())
                if isinstance(self.redis, RedisCluster):  # its pipelines refuse EVALSHA
                    pipe.eval(_MARK, 1, key, record.action_id, payload)
                else:
                    pipe.evalsha(_MARK_SHA, 1, key, record.action_id, payload)
            try:
                replies = await pipe.execute()
                return [int(reply) > 0 for reply in replies]
            except NoScriptError:
                if attempt:
                    raise
                await self.redis.script_load(_MARK)
        raise AssertionError("unreachable")

    async def _append(
        self, items: Sequence[tuple[Claim, ActionRecord | None]]
    ) -> list[str | None]:
        args: list[Any] = [self.stream_maxlen]
        for claim, record in items:
            args += [claim.member, claim.token,
                     orjson.dumps(record.document()) if record is not None else ""]
        replies: Any = await self.redis.eval(
            _APPEND, 2, self.processing_key, self.stream_key, *args
        )
        return [_text(r) or None for r in replies]

    async def published(self, count: int = 100) -> list[tuple[str, ActionRecord]]:
        entries: Any = await self.redis.xrevrange(self.stream_key, count=count)
        return [
            (_text(entry_id), ActionRecord.model_validate_json(fields[b"action"]))
            for entry_id, fields in reversed(entries)
        ]

    async def backlog(self) -> tuple[int, int]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(self.schedule_key)
        pipe.zcard(self.processing_key)
        scheduled, processing = await pipe.execute()
        return int(scheduled), int(processing)

    async def erase_person(self, profile_id: str) -> None:
        docs = await self.records.get_records(profile_id, PART)
        members = {member_of(profile_id, action_id) for action_id in docs}
        # The records may already be gone (store.erase ran first): find members by name too.
        suffix = ":" + profile_id
        for key in (self.schedule_key, self.processing_key):
            async for name, _ in self.redis.zscan_iter(key, match=f"*{suffix}", count=1000):
                if _text(name).endswith(suffix):
                    members.add(_text(name))
        await self._dequeue(sorted(members))
        # Entry ids are not kept in the records (one write less per published step), so the
        # bounded stream is searched; erasure is rare, publishing is not.
        stream_ids = await stream_ids_where(self.redis, self.stream_key, "profile_id", profile_id)
        if stream_ids:
            await self.redis.xdel(self.stream_key, *stream_ids)
        dead_ids = await stream_ids_where(self.redis, self.legacy_dead_key, "profile_id",
                                          profile_id)
        if dead_ids:
            await self.redis.xdel(self.legacy_dead_key, *dead_ids)
        await self.redis.delete(self.keys.of_profile(profile_id, PART))
