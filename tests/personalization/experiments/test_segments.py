"""Segments: definitions on every backend, real-time matching, profile checks, size estimates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from personalization.clock import FrozenClock
from personalization.errors import InvalidSegment, SegmentNotFound
from personalization.experiments.definitions import MemoryDefinitions, RedisDefinitions
from personalization.experiments.segments import (
    MemoryProfileSampler,
    ProfileSampler,
    RedisProfileSampler,
    SegmentFields,
    Segments,
)
from personalization.profiles.event_parsing import parse_event
from personalization.profiles.profile import ProfilePolicy
from personalization.profiles.service import ProfileService
from personalization.store.memory_store import MemoryStore
from tests.conftest import Backend
from tests.factories import make_store

T0 = datetime(2026, 4, 6, 8, 0, tzinfo=UTC)


def definitions(backend: Backend) -> MemoryDefinitions | RedisDefinitions:
    if backend.redis is None:
        return MemoryDefinitions()
    return RedisDefinitions(backend.redis, backend.prefix)


def sampler(backend: Backend, store: Any) -> ProfileSampler:
    if backend.redis is None:
        assert isinstance(store, MemoryStore)
        return MemoryProfileSampler(store)
    return RedisProfileSampler(backend.redis, backend.prefix)


def fields(condition: str, description: str = "") -> SegmentFields:
    return SegmentFields(condition=condition, description=description)


async def test_definitions_round_trip_on_every_backend(backend: Backend) -> None:
    clock = FrozenClock(T0)
    shared = definitions(backend)
    segments = Segments(shared, clock=clock)
    saved = await segments.put("mobile_hikers", fields(
        'device.type == "mobile" and affinity("hiking") > 0.3', "hikers on phones"))
    assert saved.updated_at == T0
    assert await segments.get("mobile_hikers") == saved
    await segments.put("lapsed", fields('profile.lifecycle == "lapsed"'))
    assert [s.name for s in await segments.all()] == ["lapsed", "mobile_hikers"]
    await segments.delete("lapsed")
    with pytest.raises(SegmentNotFound):
        await segments.get("lapsed")
    with pytest.raises(SegmentNotFound):
        await segments.delete("lapsed")
    other_worker = Segments(shared, clock=clock)
    assert await other_worker.matching(
        {"device": {"type": "mobile"}, "profile": {"affinities": {"hiking": 0.9}}}
    ) == ["mobile_hikers"]


@pytest.mark.parametrize("condition", ["profile.orders >=", "__class__", "eval(1)", "a ==== b"])
def test_a_condition_that_does_not_parse_is_refused(condition: str) -> None:
    with pytest.raises(ValidationError, match="condition"):
        SegmentFields(condition=condition)


async def test_bad_names_are_refused() -> None:
    segments = Segments(MemoryDefinitions())
    for name in ("", "Upper", "1st", "with-dash", "x" * 41):
        with pytest.raises(InvalidSegment):
            await segments.put(name, fields("true"))


async def test_real_time_matching_over_situation_and_profile() -> None:
    segments = Segments(MemoryDefinitions())
    await segments.put("newsletter_visitors", fields('source.medium == "email"'))
    await segments.put("big_spenders", fields("profile.monetary >= 500"))
    await segments.put("evening_mobile", fields(
        'situation.daypart == "evening" and device.type == "mobile"'))
    context = {
        "device": {"type": "mobile"},
        "source": {"medium": "email"},
        "situation": {"daypart": "evening"},
        "profile": {"monetary": 120},
    }
    assert await segments.matching(context) == ["evening_mobile", "newsletter_visitors"]
    annotated = await segments.annotate(context)
    assert annotated["segments"] == ["evening_mobile", "newsletter_visitors"]
    assert await segments.matching({}) == []  # missing attributes never raise


async def test_an_edit_reaches_other_workers_after_the_refresh_interval() -> None:
    clock = FrozenClock(T0)
    shared = MemoryDefinitions()
    reader = Segments(shared, clock=clock, refresh=timedelta(seconds=10))
    assert await reader.matching({"phase": "purchase"}) == []
    await Segments(shared, clock=clock).put("buyers", fields('phase == "purchase"'))
    assert await reader.matching({"phase": "purchase"}) == []  # cached
    clock.advance(seconds=10)
    assert await reader.matching({"phase": "purchase"}) == ["buyers"]


def _purchase(pid: str, n: int, value: float, category: str) -> dict[str, Any]:
    return {
        "event_id": f"{pid}-o{n}", "type": "purchase", "profile_id": pid,
        "properties": {"order_id": f"{pid}-{n}", "value": value, "currency": "EUR",
                       "items": [{"product_id": "x", "category": category}]},
    }


async def test_profile_matches_reads_the_stored_profile_without_locked_sensitive_data() -> None:
    clock = FrozenClock(T0)
    store = MemoryStore(clock=clock)
    service = ProfileService(store, clock=clock, policy=ProfilePolicy())
    raw = [_purchase("p1", n, 300.0, "pregnancy") for n in range(3)]
    raw.append({"event_id": "c", "type": "consent_update", "profile_id": "p1",
                "properties": {"consents": {"personalisation": True}}})
    await service.ingest([parse_event(r) for r in raw])
    profile = await service.get("p1")
    segments = Segments(MemoryDefinitions(), clock=clock)
    await segments.put("loyal_big", fields("profile.orders >= 3 and profile.monetary >= 900"))
    await segments.put("expecting", fields('affinity("pregnancy") > 0'))
    assert await segments.profile_matches(["loyal_big", "expecting", "nope"], profile, T0) == {
        "loyal_big": True, "expecting": False, "nope": False
    }


async def _population(backend: Backend, size: int) -> tuple[Any, int]:
    clock = FrozenClock(T0)
    store = make_store(backend, clock=clock)
    service = ProfileService(store, clock=clock, policy=ProfilePolicy())
    spenders = 0
    events = []
    for i in range(size):
        value = 600.0 if i % 4 == 0 else 40.0
        spenders += value >= 500
        events.append(parse_event(_purchase(f"c{i}", 0, value, "hiking")))
    for start in range(0, len(events), 200):
        await service.ingest(events[start : start + 200])
    return store, spenders


async def test_size_is_exact_when_the_store_is_smaller_than_the_sample(backend: Backend) -> None:
    store, spenders = await _population(backend, 60)
    segments = Segments(definitions(backend), clock=FrozenClock(T0))
    await segments.put("big", fields("profile.monetary >= 500"))
    size = await segments.size("big", sampler(backend, store), sample_size=100, seed=1)
    assert size.exact and size.profiles == 60 and size.sampled == 60
    assert size.estimate == size.low == size.high == spenders == 15


async def test_size_of_a_large_store_is_an_estimate_with_its_interval(backend: Backend) -> None:
    store, spenders = await _population(backend, 500)
    segments = Segments(definitions(backend), clock=FrozenClock(T0))
    await segments.put("big", fields("profile.monetary >= 500"))
    size = await segments.size("big", sampler(backend, store), sample_size=150, seed=1)
    assert not size.exact and size.profiles == 500 and size.sampled == 150
    assert size.low < size.estimate < size.high
    assert size.high - size.low < 150  # a 150-profile sample pins a 25 % share to about ±7 %
    # The standard error is ~16 profiles; 100 off would be a broken sampler, not bad luck.
    assert abs(size.estimate - spenders) < 100
    with pytest.raises(SegmentNotFound):
        await segments.size("missing", sampler(backend, store))


async def test_the_interval_covers_the_true_size_in_most_samples() -> None:
    store, spenders = await _population(Backend("memory", None, "x"), 400)
    segments = Segments(MemoryDefinitions(), clock=FrozenClock(T0))
    await segments.put("big", fields("profile.monetary >= 500"))
    sizes = [
        await segments.size("big", MemoryProfileSampler(store), sample_size=100, seed=seed)
        for seed in range(40)
    ]
    covered = sum(s.low <= spenders <= s.high for s in sizes)
    assert covered >= 36  # nominal 95 % (38 of 40); Wilson without finite-population correction
    assert abs(sum(s.estimate for s in sizes) / len(sizes) - spenders) < 6  # unbiased
