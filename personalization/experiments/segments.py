"""Segments: named, rule-based audiences over profile and situation, evaluated in real time.

A segment is a name and a condition in the audience language of the content pool
(:mod:`content_pool.expressions`), so marketers write targeting and segments the same way::

    name: outdoor_regulars
    condition: profile.orders >= 3 and affinity("hiking") > 0.5 and profile.lifecycle != "lapsed"

Where they are used:

- **decisions** add the names that match to the audience context
  (:meth:`Segments.annotate`), so a content item can target ``"outdoor_regulars" in segments``;
- **programmes** check a person against segments by name (:meth:`Segments.profile_matches`);
- **offline**, :meth:`Segments.size` estimates how many stored profiles match from a random
  sample of profile keys (exact when the store is smaller than the sample).

The context a condition sees: whatever the caller passes in real time (the decider's audience
context: ``device``, ``source``, ``situation``, ``intent``, ``phase``, ``moment``, ``profile``);
for a stored profile, :func:`profile_context` builds ``profile`` = {``lifecycle``,
``affinities``, ``interests``, ``orders``, ``monetary``, ``recency_days``, ``known``,
``language``, ``country``, ``region``, ``has_cart``, ``cart_value``, ``channels``} and
``situation`` = the person's last situation. Sensitive affinities the person did not unlock are
never visible to a segment (:mod:`personalization.profiles.sensitivity`).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from content_pool.errors import ExpressionError
from content_pool.expressions import Expression, compile_expression, unknown_topics
from personalization.clock import Clock, system_clock
from personalization.errors import InvalidSegment, SegmentNotFound
from personalization.experiments.definitions import DefinitionStore
from personalization.profiles.document import from_document
from personalization.profiles.sensitivity import SensitivityPolicy, usable_profile_affinities
from personalization.store.protocols import Document

if TYPE_CHECKING:
    from personalization.profiles.profile import Profile
    from personalization.store.memory_store import MemoryStore
    from personalization.store.redis_client import RedisClient

KIND = "segment"
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
_NAME = re.compile(NAME_PATTERN)


class SegmentFields(BaseModel):
    """What a marketer edits (``PUT /v1/segments/{name}`` body)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    description: str = Field(default="", max_length=500)
    condition: str = Field(
        min_length=1,
        max_length=2000,
        description="Audience language (content_pool.expressions), over profile and situation.",
        examples=['profile.orders >= 3 and affinity("hiking") > 0.5'],
    )

    @field_validator("condition")
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_expression(value)  # ExpressionError is a ValueError: pydantic reports it
        return value


class Segment(SegmentFields):
    """A stored segment."""

    name: str = Field(pattern=NAME_PATTERN)
    updated_at: AwareDatetime


@dataclass(frozen=True, slots=True)
class SegmentSize:
    """How many stored profiles match, estimated from ``sampled`` of ``profiles``.

    ``low``/``high`` bound ``estimate`` at 95 % (Wilson interval of the sampled share, scaled);
    ``exact`` when every profile was evaluated.
    """

    name: str
    estimate: int
    low: int
    high: int
    sampled: int
    matched: int
    profiles: int
    exact: bool


class ProfileSampler(Protocol):
    """Counts stored profiles and draws a uniform random sample of their documents."""

    async def sample(self, size: int, rng: random.Random) -> tuple[int, list[Document]]: ...


def profile_context(
    profile: Profile, now: datetime, sensitivity: SensitivityPolicy | None = None
) -> dict[str, Any]:
    """The context a segment condition sees for a stored profile (see the module docstring)."""
    affinities = usable_profile_affinities(profile, now, sensitivity or SensitivityPolicy())
    recency = profile.rfm.recency_days(now)
    situation: dict[str, Any] = (
        dict(profile.last_situation.attributes) if profile.last_situation else {}
    )
    return {
        **situation,
        "situation": situation,
        "profile": {
            "lifecycle": str(profile.stage),
            "affinities": affinities,
            "interests": list(affinities)[:3],
            "orders": profile.rfm.orders,
            "monetary": round(profile.rfm.revenue, 2),
            "recency_days": round(recency, 1) if recency is not None else None,
            "known": not profile.anonymous,
            "language": profile.attribute("language"),
            "country": profile.attribute("country"),
            "region": profile.known.region,
            "has_cart": not profile.cart.is_empty,
            "cart_value": profile.cart.value,
            "channels": [str(c) for c in profile.channel_preferences],
        },
    }


def _wilson(matched: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = matched / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


class Segments:
    """Segment definitions with compiled conditions, cached for real-time evaluation.

    The cache is reloaded from the store when older than ``refresh`` (so every worker sees an
    edit within that time) and at once after this process's own writes.
    """

    def __init__(
        self,
        store: DefinitionStore,
        *,
        sensitivity: SensitivityPolicy | None = None,
        refresh: timedelta = timedelta(seconds=10),
        clock: Clock = system_clock,
        known_topics: Callable[[], Collection[str]] | None = None,
    ) -> None:
        self.store = store
        self.known_topics = known_topics
        self.sensitivity = sensitivity or SensitivityPolicy()
        self.refresh = refresh
        self.clock = clock
        self._compiled: dict[str, Expression] = {}
        self._loaded_at: datetime | None = None

    # -- definitions -----------------------------------------------------------------------------
    async def put(self, name: str, fields: SegmentFields) -> Segment:
        """Create or replace a segment. Raises :class:`InvalidSegment` for a bad name, or for
        ``affinity("topic")`` naming a topic the taxonomy (``known_topics``) does not know."""
        if not _NAME.match(name):
            raise InvalidSegment(
                "a segment name is 1-40 characters: a lower-case letter, then a-z, 0-9 or _"
            )
        segment = Segment(name=name, updated_at=self.clock(), **fields.model_dump())
        compiled = compile_expression(segment.condition)
        if self.known_topics is not None:
            wrong = unknown_topics(compiled, self.known_topics())
            if wrong is not None:
                raise InvalidSegment(f"condition: {wrong}")
        await self.store.put_definition(KIND, name, segment.model_dump(mode="json"))
        self._compiled[name] = compiled
        return segment

    def check(self, condition_text: str) -> Expression:
        """The compiled condition; raises :class:`ExpressionError` (with the position) when it
        does not compile or ``affinity("topic")`` names a topic the taxonomy does not know."""
        compiled = compile_expression(condition_text)
        if self.known_topics is not None:
            wrong = unknown_topics(compiled, self.known_topics())
            if wrong is not None:
                raise wrong
        return compiled

    async def get(self, name: str) -> Segment:
        """Raises :class:`SegmentNotFound`."""
        document = await self.store.get_definition(KIND, name)
        if document is None:
            raise SegmentNotFound(name)
        return Segment.model_validate(document)

    async def delete(self, name: str) -> None:
        """Raises :class:`SegmentNotFound`."""
        if not await self.store.delete_definition(KIND, name):
            raise SegmentNotFound(name)
        self._compiled.pop(name, None)

    async def all(self) -> list[Segment]:
        documents = await self.store.all_definitions(KIND)
        return sorted((Segment.model_validate(d) for d in documents.values()), key=lambda s: s.name)

    async def load(self) -> None:
        """Reload and compile every definition (a definition that no longer compiles is skipped)."""
        compiled: dict[str, Expression] = {}
        for segment in await self.all():
            try:
                compiled[segment.name] = compile_expression(segment.condition)
            except ExpressionError:  # pragma: no cover - validated on save
                continue
        self._compiled = compiled
        self._loaded_at = self.clock()

    async def _fresh(self) -> None:
        now = self.clock()
        if self._loaded_at is None or now - self._loaded_at >= self.refresh:
            await self.load()

    # -- real time ---------------------------------------------------------------------------------
    async def matching(self, context: Mapping[str, Any]) -> list[str]:
        """Names of the segments whose condition holds in ``context``, sorted. Never raises for
        missing attributes."""
        await self._fresh()
        return sorted(name for name, cond in self._compiled.items() if cond.matches(context))

    async def annotate(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """``context`` plus ``segments``: the matching names (for content audience conditions)."""
        return {**context, "segments": await self.matching(context)}

    async def profile_matches(
        self, names: Sequence[str], profile: Profile, now: datetime
    ) -> dict[str, bool]:
        """Whether the stored ``profile`` is in each named segment (unknown names: ``False``)."""
        await self._fresh()
        context = profile_context(profile, now, self.sensitivity)
        return {
            name: (cond := self._compiled.get(name)) is not None and cond.matches(context)
            for name in names
        }

    # -- offline -----------------------------------------------------------------------------------
    async def size(
        self,
        name: str,
        sampler: ProfileSampler,
        *,
        sample_size: int = 2000,
        seed: int | None = None,
    ) -> SegmentSize:
        """Estimate how many stored profiles are in segment ``name``.

        Draws up to ``sample_size`` profiles uniformly, evaluates the condition on each
        (:func:`profile_context`) and scales the matching share to the number of profiles.
        Raises :class:`SegmentNotFound`.
        """
        segment = await self.get(name)
        return await self.estimate(segment.condition, sampler, sample_size=sample_size,
                                   seed=seed, name=name)  # fmt: skip

    async def estimate(
        self,
        condition_text: str,
        sampler: ProfileSampler,
        *,
        sample_size: int = 2000,
        seed: int | None = None,
        name: str = "",
    ) -> SegmentSize:
        """Estimate how many stored profiles match ``condition_text`` (a segment being written,
        before it is saved). Raises :class:`ExpressionError` for a condition that does not
        compile."""
        assert sample_size > 0, "the sample needs at least one profile"
        condition = compile_expression(condition_text)
        total, documents = await sampler.sample(sample_size, random.Random(seed))
        now = self.clock()
        matched = 0
        evaluated = 0
        for document in documents:
            try:
                profile = from_document(document)
            except ValueError:
                continue  # a document the current model cannot read is not counted
            evaluated += 1
            matched += condition.matches(profile_context(profile, now, self.sensitivity))
        exact = evaluated == total
        if evaluated == 0:
            return SegmentSize(name, 0, 0, total, 0, 0, total, exact)
        low, high = _wilson(matched, evaluated)
        if exact:
            return SegmentSize(name, matched, matched, matched, evaluated, matched, total, True)
        return SegmentSize(
            name,
            round(total * matched / evaluated),
            math.floor(total * low),
            math.ceil(total * high),
            evaluated,
            matched,
            total,
            False,
        )


def _reservoir(rng: random.Random, size: int) -> tuple[list[Any], Any]:
    sample: list[Any] = []
    seen = 0

    def offer(item: Any) -> None:
        nonlocal seen
        seen += 1
        if len(sample) < size:
            sample.append(item)
        else:
            j = rng.randrange(seen)
            if j < size:
                sample[j] = item

    return sample, offer


class RedisProfileSampler:
    """Samples profile keys with ``SCAN`` (every primary of a cluster), then reads the sample.

    Counting needs one pass over the key space (SCAN, never KEYS; only key names travel), so it
    costs about a second per million keys; the documents read are only the sample's.
    """

    def __init__(self, redis: RedisClient, prefix: str = "kairos", *, scan_count: int = 2000
                 ) -> None:  # fmt: skip
        self.redis = redis
        self.prefix = prefix
        self.scan_count = scan_count

    async def sample(self, size: int, rng: random.Random) -> tuple[int, list[Document]]:
        import orjson
        from redis.asyncio.cluster import RedisCluster

        match = f"{self.prefix}:{{p:*}}:profile"
        keys, offer = _reservoir(rng, size)
        total = 0
        if isinstance(self.redis, RedisCluster):
            for node in self.redis.get_primaries():
                async for key in self.redis.scan_iter(
                    match=match, count=self.scan_count, target_nodes=node
                ):
                    total += 1
                    offer(key)
        else:
            async for key in self.redis.scan_iter(match=match, count=self.scan_count):
                total += 1
                offer(key)
        documents: list[Document] = []
        for start in range(0, len(keys), 500):
            pipe = self.redis.pipeline(transaction=False)
            for key in keys[start : start + 500]:
                pipe.hget(key, "doc")
            documents += [orjson.loads(raw) for raw in await pipe.execute() if raw is not None]
        return total, documents


class MemoryProfileSampler:
    """Samples the profiles of a :class:`~personalization.store.memory_store.MemoryStore`."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def sample(self, size: int, rng: random.Random) -> tuple[int, list[Document]]:
        ids = self.store.profile_ids()
        chosen = ids if len(ids) <= size else rng.sample(ids, size)
        documents = [doc for pid in chosen if (doc := await self.store.get(pid)) is not None]
        return len(ids), documents
