"""The Redis store: profiles, event streams, decisions, counters and personal records.

Works on a single Redis and on Redis Cluster. A person's keys share one hash tag
(:mod:`personalization.store.keys`), so every update of one person is a single Lua script in one
slot.

Profile updates are optimistic: read the profile's version and which event ids it has seen, run the
reducer in Python, then write with a compare-and-set script that also appends the new events to
the person's stream and records their ids. A writer that lost the race reads again and retries, so
concurrent writers never lose an update. Reads and writes of a whole batch go out in one pipeline
each, which is what makes batched ingestion fast.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import orjson
from redis.asyncio.cluster import RedisCluster

from personalization.errors import ConflictError
from personalization.store.keys import PROFILE_PARTS, Keys
from personalization.store.protocols import ApplyResult, Document, Reducer, strip_identifiers
from personalization.store.redis_client import RedisClient, as_text, reachable

T = TypeVar("T")

_CAS_PROFILE = """
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
v = v + 1
redis.call('HSET', KEYS[1], 'v', v, 'doc', ARGV[2])
local maxlen = tonumber(ARGV[4])
for i = 6, #ARGV, 2 do
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[i])
  redis.call('XADD', KEYS[3], 'MAXLEN', maxlen, '*', 'e', ARGV[i + 1])
end
if #ARGV >= 6 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(maxlen + 1)) end
local ttl = tonumber(ARGV[3])
for i = 1, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return v
"""

_HINCR = """
local out = {}
for i = 1, #ARGV - 1, 2 do
  out[#out + 1] = redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
end
local ttl = tonumber(ARGV[#ARGV])
if ttl > 0 and redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return out
"""

_PUT_RECORD = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""


def _stream_docs(entries: Any, field: bytes) -> list[Document]:
    """Documents stored under ``field`` in XREVRANGE ``entries``, oldest first."""
    return [orjson.loads(fields[field]) for _, fields in reversed(entries or []) if fields]


def _split_seen(
    events: Sequence[Document], seen_scores: Sequence[Any]
) -> tuple[list[Document], list[str]]:
    """The events not seen before (nor earlier in this batch), and the ids of the others."""
    fresh: list[Document] = []
    duplicates: list[str] = []
    in_batch: set[str] = set()
    for event, score in zip(events, seen_scores, strict=True):
        event_id = str(event["event_id"])
        if score is not None or event_id in in_batch:
            duplicates.append(event_id)
        else:
            in_batch.add(event_id)
            fresh.append(event)
    return fresh, duplicates


def _ms(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() * 1000))


class RedisStore:
    """All store interfaces of :mod:`personalization.store.protocols` on one Redis or Redis
    Cluster."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        prefix: str = "kairos",
        profile_ttl: timedelta = timedelta(days=395),
        max_events_per_profile: int = 500,
        max_decisions: int = 100_000,
        max_attempts: int = 200,
    ) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.profile_ttl = profile_ttl
        self.max_events_per_profile = max_events_per_profile
        self.max_decisions = max_decisions
        self.max_attempts = max_attempts
        self._rng = random.Random()

    async def _run(self, awaitable: Awaitable[T]) -> T:
        async with reachable():
            return await awaitable

    # -- ProfileStore ----------------------------------------------------------------------------
    async def get(self, profile_id: str) -> Document | None:
        raw = await self._run(self.redis.hget(self.keys.of_profile(profile_id, "profile"), "doc"))
        return orjson.loads(raw) if raw is not None else None

    async def apply(
        self, batch: Sequence[tuple[str, Sequence[Document]]], reducer: Reducer
    ) -> list[ApplyResult]:
        results: dict[int, ApplyResult] = {}
        pending = list(range(len(batch)))
        for attempt in range(self.max_attempts):
            if not pending:
                break
            if attempt:
                await asyncio.sleep(self._rng.uniform(0, min(0.05, 0.001 * 2 ** min(attempt, 6))))
            pending = await self._apply_round(batch, pending, reducer, results)
        if pending:
            raise ConflictError(
                f"{len(pending)} profile update(s) lost {self.max_attempts} races in a row"
            )
        return [results[i] for i in range(len(batch))]

    async def _apply_round(
        self,
        batch: Sequence[tuple[str, Sequence[Document]]],
        pending: list[int],
        reducer: Reducer,
        results: dict[int, ApplyResult],
    ) -> list[int]:
        async with reachable():
            pipe = self.redis.pipeline(transaction=False)
            for i in pending:
                profile_id, events = batch[i]
                pipe.hmget(self.keys.of_profile(profile_id, "profile"), ["v", "doc"])
                ids = [str(e["event_id"]) for e in events]
                if ids:
                    pipe.zmscore(self.keys.of_profile(profile_id, "seen"), ids)
            replies = await pipe.execute()
        writes: list[tuple[int, list[Any], ApplyResult]] = []
        cursor = 0
        for i in pending:
            profile_id, events = batch[i]
            version_raw, doc_raw = replies[cursor]
            cursor += 1
            seen_scores: list[Any] = [None] * len(events)
            if events:
                seen_scores = replies[cursor]
                cursor += 1
            version = int(version_raw or 0)
            current = orjson.loads(doc_raw) if doc_raw is not None else None
            fresh, duplicates = _split_seen(events, seen_scores)
            new = reducer(current, fresh)
            if new is None:
                results[i] = ApplyResult(profile_id, current, [], duplicates, version)
                continue
            args = self._cas_args(version, new, fresh)
            applied = [str(e["event_id"]) for e in fresh]
            writes.append((i, args, ApplyResult(profile_id, new, applied, duplicates, version + 1)))
        if not writes:
            return []
        async with reachable():
            pipe = self.redis.pipeline(transaction=False)
            for i, args, _ in writes:
                profile_id = batch[i][0]
                keys = [self.keys.of_profile(profile_id, p) for p in ("profile", "seen", "events")]
                pipe.eval(_CAS_PROFILE, 3, *keys, *args)
            outcomes = await pipe.execute()
        lost = []
        for (i, _, result), outcome in zip(writes, outcomes, strict=True):
            if int(outcome) < 0:
                lost.append(i)
            else:
                results[i] = result
        return lost

    def _cas_args(self, version: int, new: Document, fresh: Sequence[Document]) -> list[Any]:
        """ARGV of :data:`_CAS_PROFILE`: expected version, document, TTL, stream bound, now,
        then id and body of each new event."""
        args: list[Any] = [
            version,
            orjson.dumps(new),
            _ms(self.profile_ttl),
            self.max_events_per_profile,
            int(time.time() * 1000),
        ]
        for event in fresh:
            args += [str(event["event_id"]), orjson.dumps(event, default=str)]
        return args

    async def events(self, profile_id: str, *, limit: int = 1000) -> list[Document]:
        entries = await self._run(
            self.redis.xrevrange(self.keys.of_profile(profile_id, "events"), count=limit)
        )
        return _stream_docs(entries, b"e")

    async def erase(self, profile_id: str) -> bool:
        keys = self.keys.all_of_profile(profile_id)
        async with reachable():
            decision_ids = await self.redis.smembers(self.keys.of_profile(profile_id, "decisions"))
            pipe = self.redis.pipeline(transaction=False)
            for decision_id in decision_ids:
                pipe.delete(self._decision_key(as_text(decision_id)))
            for key in keys:
                pipe.delete(key)
            deleted = await pipe.execute()
        return any(deleted[len(decision_ids) :])

    async def ping(self) -> None:
        await self._run(self.redis.ping())

    async def scan_profile_ids(self) -> AsyncIterator[str]:
        """Every stored profile id (for sweeps), by SCAN on every primary: no KEYS, no blocking."""
        head = len(f"{self.keys.prefix}:{{p:")
        tail = len("}:profile")
        async with reachable():
            async for key in self._scan(self.keys.profile_tag("*") + ":profile"):
                yield as_text(key)[head:-tail]

    async def try_lock(self, name: str, ttl: timedelta) -> bool:
        """Take the named lock for ``ttl`` unless another process holds it (no release: it
        times out, which is what an interval lock wants)."""
        taken = await self._run(self.redis.set(self.keys.shared("lock", name), "1", nx=True,
                                               px=_ms(ttl)))
        return bool(taken)

    # -- DecisionLog -----------------------------------------------------------------------------
    def _decision_key(self, decision_id: str) -> str:
        return self.keys.shared("dec", decision_id)

    async def put_decision(
        self, decision_id: str, record: Document, *, profile_id: str | None, ttl: timedelta
    ) -> None:
        async with reachable():
            pipe = self.redis.pipeline(transaction=False)
            payload = orjson.dumps(record, default=str)
            pipe.set(self._decision_key(decision_id), payload, px=_ms(ttl))
            pipe.xadd(
                self.keys.shared("declog"),
                {"d": orjson.dumps(strip_identifiers(record), default=str)},
                maxlen=self.max_decisions,
                approximate=True,
            )
            if profile_id is not None:
                tracked = self.keys.of_profile(profile_id, "decisions")
                pipe.sadd(tracked, decision_id)
                pipe.pexpire(tracked, _ms(max(ttl, self.profile_ttl)))
            await pipe.execute()

    async def get_decision(self, decision_id: str) -> Document | None:
        raw = await self._run(self.redis.get(self._decision_key(decision_id)))
        return orjson.loads(raw) if raw is not None else None

    async def decisions_of(self, profile_id: str) -> list[Document]:
        async with reachable():
            ids = await self.redis.smembers(self.keys.of_profile(profile_id, "decisions"))
            if not ids:
                return []
            # Decision keys are not in the person's slot: a plain pipeline, not one MGET.
            pipe = self.redis.pipeline(transaction=False)
            for decision_id in sorted(as_text(i) for i in ids):
                pipe.get(self._decision_key(decision_id))
            replies = await pipe.execute()
        return [orjson.loads(raw) for raw in replies if raw is not None]

    async def recent_decisions(self, *, limit: int = 1000) -> list[Document]:
        entries = await self._run(self.redis.xrevrange(self.keys.shared("declog"), count=limit))
        return _stream_docs(entries, b"d")

    # -- Counters --------------------------------------------------------------------------------
    def _counter_key(self, key: str) -> str:
        return self.keys.shared("c", key)

    async def incr(self, key: str, amounts: Mapping[str, float]) -> None:
        args = [x for name, amount in amounts.items() for x in (name, float(amount))]
        await self._run(self.redis.eval(_HINCR, 1, self._counter_key(key), *args, 0))

    async def incr_many(self, updates: Sequence[tuple[str, Mapping[str, float]]]) -> None:
        if not updates:
            return
        async with reachable():
            pipe = self.redis.pipeline(transaction=False)
            for key, amounts in updates:
                args = [x for name, amount in amounts.items() for x in (name, float(amount))]
                pipe.eval(_HINCR, 1, self._counter_key(key), *args, 0)
            await pipe.execute()

    async def get_many(self, keys: Sequence[str]) -> list[dict[str, float]]:
        if not keys:
            return []
        async with reachable():
            pipe = self.redis.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(self._counter_key(key))
            replies = await pipe.execute()
        return [{k.decode(): float(v) for k, v in reply.items()} for reply in replies]

    async def scan_counters(self, pattern: str) -> dict[str, dict[str, float]]:
        match = self._counter_key(pattern)
        strip = len(self._counter_key(""))
        async with reachable():
            found = [as_text(key) async for key in self._scan(match)]
        values = await self.get_many([key[strip:] for key in found])
        return {key[strip:]: value for key, value in zip(found, values, strict=True)}

    async def _scan(self, match: str) -> AsyncIterator[bytes]:
        if isinstance(self.redis, RedisCluster):
            for node in self.redis.get_primaries():
                async for key in self.redis.scan_iter(match=match, count=1000, target_nodes=node):
                    yield key
        else:
            async for key in self.redis.scan_iter(match=match, count=1000):
                yield key

    # -- PersonalRecords -------------------------------------------------------------------------
    async def incr_personal(
        self, profile_id: str, part: str, amounts: Mapping[str, float], *, ttl: timedelta
    ) -> dict[str, float]:
        assert part in PROFILE_PARTS, part
        args = [x for name, amount in amounts.items() for x in (name, float(amount))]
        key = self.keys.of_profile(profile_id, part)
        reply = await self._run(self.redis.eval(_HINCR, 1, key, *args, _ms(ttl)))
        return {name: float(value) for name, value in zip(amounts, reply, strict=True)}

    async def get_personal_counters(self, profile_id: str, part: str) -> dict[str, float]:
        reply = await self._run(self.redis.hgetall(self.keys.of_profile(profile_id, part)))
        return {as_text(k): float(v) for k, v in reply.items()}

    async def put_record(
        self, profile_id: str, part: str, name: str, value: Document, *, ttl: timedelta
    ) -> None:
        assert part in PROFILE_PARTS, part
        key = self.keys.of_profile(profile_id, part)
        payload = orjson.dumps(value, default=str)
        await self._run(self.redis.eval(_PUT_RECORD, 1, key, name, payload, _ms(ttl)))

    async def get_records(self, profile_id: str, part: str) -> dict[str, Document]:
        reply = await self._run(self.redis.hgetall(self.keys.of_profile(profile_id, part)))
        return {as_text(k): orjson.loads(v) for k, v in reply.items()}

    async def count_records(self, profile_id: str, part: str) -> int:
        return int(await self._run(self.redis.hlen(self.keys.of_profile(profile_id, part))))

    async def delete_record(self, profile_id: str, part: str, name: str) -> None:
        await self._run(self.redis.hdel(self.keys.of_profile(profile_id, part), name))

    async def close(self) -> None:
        await self.redis.aclose()
