"""Webhook deliveries in Redis (single or Cluster); see :mod:`personalization.automation.deliveries`
for the keys and the protocol. Every settlement is one Lua script on keys of one slot."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from redis.exceptions import ResponseError

from personalization.automation.action_record import ms
from personalization.automation.deliveries import (
    GROUP,
    DeadLetter,
    Delivery,
    DeliveryCounts,
    RetryPolicy,
    first_try,
    from_member,
    from_ms,
    retry_member,
)
from personalization.store.keys import Keys
from personalization.store.redis_client import RedisClient, as_text, stream_ids_where

log = logging.getLogger("kairos.deliveries")

# Due retries (and retries whose holder's lease passed) are leased to the taker until ARGV[2].
_TAKE_RETRIES = """
local out = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, m in ipairs(out) do redis.call('ZADD', KEYS[1], ARGV[2], m) end
return out
"""

# Release the delivery if it is still the caller's (an unacknowledged stream entry, or a retry
# member still leased with the caller's token), then reschedule it or park it, or neither.
_SETTLE = """
if ARGV[2] ~= '' then
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
else
  local score = redis.call('ZSCORE', KEYS[2], ARGV[3])
  if (not score) or tonumber(score) ~= tonumber(ARGV[4]) then return 0 end
  redis.call('ZREM', KEYS[2], ARGV[3])
end
if ARGV[5] == 'retry' then
  redis.call('ZADD', KEYS[2], ARGV[7], ARGV[6])
elseif ARGV[5] == 'dead' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'action_id', ARGV[9],
             'profile_id', ARGV[10], 'action', ARGV[11], 'error', ARGV[12],
             'attempts', ARGV[13], 'first_at', ARGV[14], 'last_at', ARGV[15])
end
return 1
"""

# Move dead letters back to the retries, each only once (XDEL says whether it was still there).
_REVIVE = """
local out = {}
for i = 2, #ARGV, 2 do
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i + 1])
    out[#out + 1] = ARGV[i]
  end
end
return out
"""


class RedisDeliveries:
    """Deliveries kept in Redis: they survive the workers (see the module docstring)."""

    def __init__(self, redis: RedisClient, keys: Keys, *, policy: RetryPolicy | None = None,
                 lease: timedelta = timedelta(seconds=30), rng: random.Random | None = None,
                 max_dead: int = 100_000) -> None:  # fmt: skip
        self.redis = redis
        self.policy = policy or RetryPolicy()
        self.lease = lease
        self.rng = rng or random.Random()
        self.max_dead = max_dead
        self.stream_key = keys.shared("actions")
        tag = "{" + self.stream_key + "}"
        self.retry_key = keys.shared("deliveries", "retry", tag)
        self.dead_key = keys.shared("deliveries", "dead", tag)
        self._opened = False

    async def open(self) -> None:
        if self._opened:
            return
        try:  # from now on: switching the webhook on does not send the stream's whole history
            await self.redis.xgroup_create(self.stream_key, GROUP, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._opened = True

    async def take(self, consumer: str, count: int, now: datetime) -> list[Delivery]:
        await self.open()
        deadline = ms(now + self.lease)
        members: Any = await self.redis.eval(_TAKE_RETRIES, 1, self.retry_key, ms(now),
                                             deadline, count)
        out = [from_member(as_text(m), deadline) for m in members]
        entries: list[Any] = []
        if len(out) < count:
            claimed: Any = await self.redis.xautoclaim(
                self.stream_key, GROUP, consumer, min_idle_time=int(self.lease / timedelta(
                    milliseconds=1)), start_id="0-0", count=count - len(out))
            entries += list(claimed[1]) if claimed else []
            if claimed and len(claimed) > 2 and claimed[2]:
                _dropped(len(claimed[2]))
        if len(out) + len(entries) < count:
            answer: Any = await self.redis.xreadgroup(
                GROUP, consumer, {self.stream_key: ">"}, count=count - len(out) - len(entries))
            for _stream, rows in answer or []:
                entries.extend(rows)
        gone = [as_text(entry_id) for entry_id, fields in entries if not fields]
        if gone:  # erased (or trimmed) while waiting: nothing left to deliver
            await self.redis.xack(self.stream_key, GROUP, *gone)
            _dropped(len(gone))
        out += [first_try(as_text(entry_id), orjson.loads(fields[b"action"]))
                for entry_id, fields in entries if fields]
        return out

    async def _settle(self, delivery: Delivery, outcome: str, *args: Any) -> bool:
        kind, key = delivery.handle[0], delivery.handle[2:]
        entry_id, member = (key, "") if kind == "s" else ("", key)
        done: Any = await self.redis.eval(
            _SETTLE, 3, self.stream_key, self.retry_key, self.dead_key,
            GROUP, entry_id, member, delivery.token, outcome, *args)
        return bool(done)

    async def delivered(self, delivery: Delivery) -> bool:
        return await self._settle(delivery, "done")

    async def failed(self, delivery: Delivery, error: str, now: datetime, *,
                     final: bool = False) -> bool:  # fmt: skip
        if final or delivery.attempt >= self.policy.max_tries:
            settled = await self._settle(
                delivery, "dead", "", 0, self.max_dead, delivery.action_id, delivery.profile_id,
                delivery.body(), error, delivery.attempt, delivery.first_at, ms(now))
            return settled
        wait = self.policy.delay(delivery.attempt, self.rng)
        await self._settle(delivery, "retry", retry_member(delivery, delivery.attempt, error),
                           ms(now) + int(wait * 1000))
        return False

    async def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        entries: Any = await self.redis.xrange(self.dead_key, count=count)
        return [_dead_letter(as_text(entry_id), fields) for entry_id, fields in entries]

    async def replay(self, ids: Sequence[str] | None, now: datetime) -> list[str]:
        if ids is None:
            entries: Any = await self.redis.xrange(self.dead_key)
        else:
            pipe = self.redis.pipeline(transaction=False)
            for entry_id in ids:
                pipe.xrange(self.dead_key, min=entry_id, max=entry_id)
            try:
                found = await pipe.execute()
            except ResponseError:  # an id that is no stream id at all
                return []
            entries = [rows[0] for rows in found if rows]
        replayed: list[str] = []
        for start in range(0, len(entries), 500):
            args: list[Any] = [ms(now)]
            for entry_id, fields in entries[start:start + 500]:
                dead = _dead_letter(as_text(entry_id), fields)
                fresh = Delivery(dead.action_id, dead.profile_id, dead.action, 0,
                                 ms(dead.first_at), dead.error, "")
                args += [dead.id, retry_member(fresh, 0, dead.error)]
            out: Any = await self.redis.eval(_REVIVE, 2, self.dead_key, self.retry_key, *args)
            replayed += [as_text(i) for i in out]
        return replayed

    async def counts(self) -> DeliveryCounts:
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(self.retry_key)
        pipe.xlen(self.dead_key)
        retrying, dead = await pipe.execute()
        return DeliveryCounts(await self._pending(), int(retrying), int(dead))

    async def _pending(self) -> int:
        """Read but unsettled first tries, plus the entries the group has not read yet."""
        try:
            groups: Any = await self.redis.xinfo_groups(self.stream_key)
        except ResponseError:  # no stream yet
            return 0
        for group in groups:
            if as_text(group["name"]) != GROUP:
                continue
            lag = group.get("lag")
            if lag is None:  # Redis cannot tell after deletions (erasure): count them
                unread: Any = await self.redis.xrange(
                    self.stream_key, min="(" + as_text(group["last-delivered-id"]))
                lag = len(unread)
            return int(group["pending"]) + int(lag)
        return 0

    async def forget(self, profile_id: str) -> None:
        doomed = [as_text(m) async for m, _ in self.redis.zscan_iter(self.retry_key, count=1000)
                  if orjson.loads(m)["profile_id"] == profile_id]
        if doomed:
            await self.redis.zrem(self.retry_key, *doomed)
        dead = await stream_ids_where(self.redis, self.dead_key, "profile_id", profile_id)
        if dead:
            await self.redis.xdel(self.dead_key, *dead)


def _dropped(count: int) -> None:
    log.warning("deliveries dropped: their actions were erased, or trimmed from the stream "
                "before they could be sent", extra={"count": count})


def _dead_letter(entry_id: str, fields: dict[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
        entry_id, as_text(fields[b"action_id"]), as_text(fields[b"profile_id"]),
        orjson.loads(fields[b"action"]), as_text(fields[b"error"]), int(fields[b"attempts"]),
        from_ms(int(fields[b"first_at"])), from_ms(int(fields[b"last_at"])))
