"""Delayed steps: scheduled in the store, claimed once by any of several workers, published.

A scheduled step has two halves. Its body, an :class:`ActionRecord`, is a record of the person's
``actions`` part (``<prefix>:{p:<id>}:actions``), so it is erased with the person and shown by
``GET /v1/profiles/{id}/actions``. The schedule itself keeps only ``<action_id>:<profile_id>``
members, scored by due time (ms), in a sorted set that belongs to no person.

Claiming (:meth:`Scheduler.claim`) moves due members, atomically, from the schedule to a
*processing* set scored by a lease deadline, and returns them with that deadline as a token.
:meth:`Scheduler.publish` then appends each to the ``actions`` stream and removes it from the
processing set in one atomic step that first checks the token is still the claimer's, so every
due step reaches the stream exactly once, whatever the number of workers. A worker that dies
after claiming loses nothing: once the lease has passed, the next claim takes those members again.

Redis layout (single Redis and Redis Cluster): the stream is ``<prefix>:actions`` (consumers read
it with consumer groups: ``XGROUP CREATE <prefix>:actions mailer $ MKSTREAM``), the schedule and
processing sets are ``<prefix>:schedule:{<prefix>:actions}`` and
``<prefix>:processing:{<prefix>:actions}``: their hash tag is the stream's own name, so the three
share one cluster slot and claim and publish are single Lua scripts. Failed webhook deliveries are
dead-lettered to ``<prefix>:actions:dead``.

:class:`MemoryScheduler` keeps the same semantics in one process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import orjson
from pydantic import AwareDatetime, Field
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from personalization.automation.next_action import NextAction
from personalization.automation.programmes import Outcome, When
from personalization.store.keys import Keys
from personalization.store.memory_store import MemoryStore
from personalization.store.protocols import Document, PersonalRecords
from personalization.store.redis_store import RedisClient, RedisStore, stream_ids_where

PART = "actions"
Status = Literal["pending", "sent", "cancelled", "suppressed"]


class ActionRecord(NextAction):
    """A planned step as the person's ``actions`` record keeps it: the action and its fate."""

    status: Status = "pending"
    run_id: str
    parent_id: str | None = None
    when: When = "sent"
    created_at: AwareDatetime
    published_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    note: str | None = None
    outcome: Outcome | None = None
    outcome_at: AwareDatetime | None = None
    stream_id: str | None = Field(
        default=None, description="The stream entry, on the records publish returns (not stored)."
    )
    cap_field: str | None = None

    def document(self) -> Document:
        return self.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class Claim:
    """A due step claimed by one worker until ``token`` (the lease deadline, ms since epoch)."""

    profile_id: str
    action_id: str
    token: int

    @property
    def member(self) -> str:
        return _member(self.profile_id, self.action_id)


class Scheduler(Protocol):
    """Delayed steps; see the module docstring. Both implementations pass the same tests."""

    async def schedule(self, records: Sequence[ActionRecord]) -> None:
        """Store records; pending ones are scheduled for their ``send_at``."""
        ...

    async def update(self, record: ActionRecord) -> None:
        """Rewrite a record (an outcome, a note) without touching the schedule."""
        ...

    async def cancel(
        self, profile_id: str, action_ids: Iterable[str], *, reason: str, now: datetime
    ) -> list[ActionRecord]:
        """Cancel those of the steps that are still pending; returns the cancelled records."""
        ...

    async def actions(self, profile_id: str) -> list[ActionRecord]:
        """The person's pending and past steps, by ``send_at``."""
        ...

    async def claim(self, now: datetime, limit: int) -> list[Claim]:
        """Claim up to ``limit`` due steps (and steps whose lease expired) for this worker."""
        ...

    async def publish(self, claims: Sequence[Claim], now: datetime) -> list[ActionRecord]:
        """Publish claimed steps to the ``actions`` stream; returns those published by this call.

        Claims whose step was cancelled or erased meanwhile are dropped; claims whose lease was
        taken over by another worker are left to that worker.
        """
        ...

    async def dead_letter(self, record: ActionRecord, error: str) -> None:
        """Keep an action that could not be delivered (webhook) in the dead-letter stream."""
        ...

    async def published(self, count: int = 100) -> list[tuple[str, ActionRecord]]:
        """The latest stream entries ``(entry_id, record)``, oldest first."""
        ...

    async def dead(self, count: int = 100) -> list[tuple[str, Document]]:
        """The latest dead letters ``(entry_id, {"action", "error"})``, oldest first."""
        ...

    async def backlog(self) -> tuple[int, int]:
        """``(scheduled, processing)``: how many steps wait and how many are claimed."""
        ...

    async def erase_person(self, profile_id: str) -> None:
        """Forget the person's steps everywhere: records, schedule, stream and dead letters."""
        ...


def _due_members(records: Sequence[ActionRecord]) -> list[tuple[str, int]]:
    """The schedule entries of the pending ``records``: member and due time in ms."""
    return [(_member(r.profile_id, r.action_id), _ms(r.send_at))
            for r in records if r.status == "pending" and r.profile_id is not None]


def _member(profile_id: str, action_id: str) -> str:
    return f"{action_id}:{profile_id}"


def _split(member: str) -> tuple[str, str]:
    action_id, _, profile_id = member.partition(":")
    return profile_id, action_id


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class _RecordsScheduler:
    """What both implementations share: the records half, kept in :class:`PersonalRecords`."""

    def __init__(
        self, records: PersonalRecords, *, lease: timedelta, record_ttl: timedelta,
        max_past: int, prune_slack: int,
    ) -> None:
        assert lease > timedelta(0), "the lease must be positive"
        assert prune_slack >= 0, "prune_slack cannot be negative"
        self.records = records
        self.lease = lease
        self.record_ttl = record_ttl
        self.max_past = max_past
        self.prune_slack = prune_slack

    # -- subclass hooks ------------------------------------------------------------------------
    async def _enqueue(self, members: Sequence[tuple[str, int]]) -> None:
        raise NotImplementedError

    async def _dequeue(self, members: Sequence[str]) -> None:
        raise NotImplementedError

    async def _append(
        self, items: Sequence[tuple[Claim, ActionRecord | None]]
    ) -> list[str | None]:
        """Atomically per claim: if the lease is still ours, append the record (when given) to
        the stream and release the claim. Returns the stream id, or ``None``."""
        raise NotImplementedError

    async def _load(self, claims: Sequence[Claim]) -> list[ActionRecord | None]:
        out = []
        for claim in claims:
            docs = await self.records.get_records(claim.profile_id, PART)
            doc = docs.get(claim.action_id)
            out.append(ActionRecord.model_validate(doc) if doc is not None else None)
        return out

    async def _mark_sent(self, records: Sequence[ActionRecord]) -> list[bool]:
        """Store each record (status ``sent``) if its stored version is still pending.

        ``False`` for a record that was cancelled or erased meanwhile (it is left as it is).
        """
        out = []
        for record in records:
            assert record.profile_id is not None
            current = (await self.records.get_records(record.profile_id, PART)).get(
                record.action_id)
            status = current.get("status") if current is not None else None
            if status == "pending":
                await self._write([record])
            out.append(status in ("pending", "sent"))
        return out

    async def _write(self, records: Sequence[ActionRecord]) -> None:
        for record in records:
            assert record.profile_id is not None
            await self.records.put_record(
                record.profile_id, PART, record.action_id, record.document(), ttl=self.record_ttl
            )

    # -- shared --------------------------------------------------------------------------------
    async def schedule(self, records: Sequence[ActionRecord]) -> None:
        await self._write(records)
        await self._enqueue(_due_members(records))
        for profile_id in {r.profile_id for r in records if r.profile_id is not None}:
            await self._prune(profile_id, await self.records.count_records(profile_id, PART))

    async def _prune(self, profile_id: str, count: int) -> None:
        """Drop the oldest past records beyond ``max_past`` of a person who has ``count``."""
        # Reading every record to prune is the costly part of scheduling: do it only once the
        # person has ``prune_slack`` records more than the bound, which keeps it amortised.
        if count <= self.max_past + self.prune_slack:
            return
        past = [r for r in await self.actions(profile_id) if r.status != "pending"]
        for record in past[: max(0, len(past) - self.max_past)]:
            await self.records.delete_record(profile_id, PART, record.action_id)

    async def update(self, record: ActionRecord) -> None:
        await self._write([record])

    async def cancel(
        self, profile_id: str, action_ids: Iterable[str], *, reason: str, now: datetime
    ) -> list[ActionRecord]:
        wanted = set(action_ids)
        docs = await self.records.get_records(profile_id, PART)
        cancelled = [
            ActionRecord.model_validate(doc).model_copy(
                update={"status": "cancelled", "note": reason, "closed_at": now}
            )
            for name, doc in docs.items()
            if name in wanted and doc.get("status") == "pending"
        ]
        if cancelled:
            await self._write(cancelled)
            await self._dequeue([_member(profile_id, r.action_id) for r in cancelled])
        return cancelled

    async def actions(self, profile_id: str) -> list[ActionRecord]:
        docs = await self.records.get_records(profile_id, PART)
        records = [ActionRecord.model_validate(doc) for doc in docs.values()]
        return sorted(records, key=lambda r: (r.send_at, r.created_at, r.action_id))

    async def publish(self, claims: Sequence[Claim], now: datetime) -> list[ActionRecord]:
        if not claims:
            return []
        loaded = await self._load(claims)
        items: list[tuple[Claim, ActionRecord | None]] = []
        first_time: list[ActionRecord] = []
        for claim, record in zip(claims, loaded, strict=True):
            if record is None or record.status in ("cancelled", "suppressed"):
                items.append((claim, None))  # erased or cancelled meanwhile: just release it
                continue
            if record.status == "pending":
                record = record.model_copy(update={"status": "sent", "published_at": now})
                first_time.append(record)
            items.append((claim, record))
        # Marked sent before the append: a worker dying in between leaves a claimed step that the
        # next claim publishes, never a sent step that still looks pending. A step cancelled or
        # erased since it was read is not marked (nor revived) and is dropped.
        still = dict(zip((r.action_id for r in first_time), await self._mark_sent(first_time),
                         strict=True))
        items = [(claim, record if record is None or still.get(record.action_id, True) else None)
                 for claim, record in items]
        ids = await self._append(items)
        return [
            record.model_copy(update={"stream_id": entry_id})
            for (_, record), entry_id in zip(items, ids, strict=True)
            if record is not None and entry_id is not None
        ]


def _entry(record: ActionRecord) -> dict[str, bytes | str]:
    return {"profile_id": record.profile_id or "", "action": orjson.dumps(record.document())}


# -- Redis ---------------------------------------------------------------------------------------
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


class RedisScheduler(_RecordsScheduler):
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
        self.dead_key = self.keys.shared("actions", "dead")
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
        await self._enqueue(_due_members(records))
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
        deadline = _ms(now + self.lease)
        members: Any = await self.redis.eval(
            _CLAIM, 2, self.schedule_key, self.processing_key, _ms(now), deadline, limit
        )
        return [Claim(*_split(_text(m)), token=deadline) for m in members]

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

    async def dead_letter(self, record: ActionRecord, error: str) -> None:
        await self.redis.xadd(
            self.dead_key,
            {**_entry(record), "error": error},  # type: ignore[dict-item]
            maxlen=self.stream_maxlen,
            approximate=True,
        )

    async def published(self, count: int = 100) -> list[tuple[str, ActionRecord]]:
        entries: Any = await self.redis.xrevrange(self.stream_key, count=count)
        return [
            (_text(entry_id), ActionRecord.model_validate_json(fields[b"action"]))
            for entry_id, fields in reversed(entries)
        ]

    async def dead(self, count: int = 100) -> list[tuple[str, Document]]:
        entries: Any = await self.redis.xrevrange(self.dead_key, count=count)
        return [
            (_text(entry_id), {"action": orjson.loads(fields[b"action"]),
                               "error": _text(fields[b"error"])})
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
        members = {_member(profile_id, action_id) for action_id in docs}
        # The records may already be gone (store.erase ran first): find members by name too.
        suffix = ":" + profile_id
        for key in (self.schedule_key, self.processing_key):
            async for member, _ in self.redis.zscan_iter(key, match=f"*{suffix}", count=1000):
                if _text(member).endswith(suffix):
                    members.add(_text(member))
        await self._dequeue(sorted(members))
        # Entry ids are not kept in the records (one write less per published step), so the
        # bounded stream is searched; erasure is rare, publishing is not.
        stream_ids = await stream_ids_where(self.redis, self.stream_key, "profile_id", profile_id)
        if stream_ids:
            await self.redis.xdel(self.stream_key, *stream_ids)
        dead_ids = await stream_ids_where(self.redis, self.dead_key, "profile_id", profile_id)
        if dead_ids:
            await self.redis.xdel(self.dead_key, *dead_ids)
        await self.redis.delete(self.keys.of_profile(profile_id, PART))


# -- in process ----------------------------------------------------------------------------------
class MemoryScheduler(_RecordsScheduler):
    """The same semantics inside one process (tests, ``make serve`` without Redis)."""

    def __init__(
        self,
        store: MemoryStore | PersonalRecords,
        *,
        lease: timedelta = timedelta(seconds=60),
        record_ttl: timedelta = timedelta(days=395),
        max_past: int = 100,
        prune_slack: int = 20,
        stream_maxlen: int = 100_000,
    ) -> None:
        super().__init__(store, lease=lease, record_ttl=record_ttl, max_past=max_past,
                         prune_slack=prune_slack)
        self.stream_maxlen = stream_maxlen
        self._schedule: dict[str, int] = {}
        self._processing: dict[str, int] = {}
        self._stream: list[tuple[str, str, ActionRecord]] = []  # (entry id, profile id, record)
        self._dead: list[tuple[str, str, Document]] = []
        self._seq = 0

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self._seq}-0"

    async def _enqueue(self, members: Sequence[tuple[str, int]]) -> None:
        self._schedule.update(members)

    async def _dequeue(self, members: Sequence[str]) -> None:
        for member in members:
            self._schedule.pop(member, None)
            self._processing.pop(member, None)

    async def claim(self, now: datetime, limit: int) -> list[Claim]:
        now_ms, deadline = _ms(now), _ms(now + self.lease)
        expired = sorted((s, m) for m, s in self._processing.items() if s <= now_ms)[:limit]
        due = sorted((s, m) for m, s in self._schedule.items() if s <= now_ms)
        taken = [m for _, m in expired] + [m for _, m in due[: limit - len(expired)]]
        for member in taken:
            self._schedule.pop(member, None)
            self._processing[member] = deadline
        return [Claim(*_split(m), token=deadline) for m in taken]

    async def _append(
        self, items: Sequence[tuple[Claim, ActionRecord | None]]
    ) -> list[str | None]:
        out: list[str | None] = []
        for claim, record in items:
            if self._processing.get(claim.member) != claim.token:
                out.append(None)
                continue
            del self._processing[claim.member]
            if record is None:
                out.append(None)
                continue
            entry_id = self._next_id()
            self._stream.append((entry_id, claim.profile_id, record))
            del self._stream[: max(0, len(self._stream) - self.stream_maxlen)]
            out.append(entry_id)
        return out

    async def dead_letter(self, record: ActionRecord, error: str) -> None:
        doc = {"action": record.document(), "error": error}
        self._dead.append((self._next_id(), record.profile_id or "", doc))

    async def published(self, count: int = 100) -> list[tuple[str, ActionRecord]]:
        return [(entry_id, record) for entry_id, _, record in self._stream[-count:]]

    async def dead(self, count: int = 100) -> list[tuple[str, Document]]:
        return [(entry_id, doc) for entry_id, _, doc in self._dead[-count:]]

    async def backlog(self) -> tuple[int, int]:
        return len(self._schedule), len(self._processing)

    async def erase_person(self, profile_id: str) -> None:
        docs = await self.records.get_records(profile_id, PART)
        suffix = ":" + profile_id
        await self._dequeue(
            [m for m in [*self._schedule, *self._processing] if m.endswith(suffix)]
        )
        self._stream = [e for e in self._stream if e[1] != profile_id]
        self._dead = [e for e in self._dead if e[1] != profile_id]
        for action_id in docs:
            await self.records.delete_record(profile_id, PART, action_id)


def build_scheduler(
    store: MemoryStore | RedisStore, *, lease: timedelta = timedelta(seconds=60),
    max_past: int = 100, stream_maxlen: int = 100_000,
) -> MemoryScheduler | RedisScheduler:
    """The scheduler that fits the store: Redis with a :class:`RedisStore`, else in process."""
    if isinstance(store, RedisStore):
        return RedisScheduler(store, lease=lease, max_past=max_past, stream_maxlen=stream_maxlen)
    return MemoryScheduler(store, lease=lease, record_ttl=store.profile_ttl, max_past=max_past,
                           stream_maxlen=stream_maxlen)
