"""The profile service on every backend: idempotency, merge, decay, lifecycle, consent, erasure,
and concurrent writers."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import timedelta

import pytest

from personalization.clock import FrozenClock
from personalization.errors import ProfileNotFound
from personalization.profiles.consent import profile_for_decision
from personalization.profiles.events import AttributesUpdate, Event, Purpose
from personalization.profiles.lifecycle import Stage
from personalization.profiles.profile import Profile, Transition
from personalization.profiles.service import ProfileService
from tests.conftest import Backend
from tests.factories import keys_mentioning, make_store
from tests.personalization.profile_factories import T0, make_event, make_service, purchase


class Recorder:
    """A listener that remembers what it heard."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, list[str], list[Stage]]] = []

    async def on_events(self, profile: Profile, events: Sequence[Event],
                        transitions: Sequence[Transition]) -> None:
        self.heard.append((profile.profile_id, [e.event_id for e in events],
                           [t.to_stage for t in transitions]))


async def test_repeated_events_are_applied_once(backend: Backend) -> None:
    service = make_service(backend)
    events = [make_event("page_view", properties={"category": "boots"}), purchase("u1", 30)]
    first = await service.ingest(events)
    again = await service.ingest([*events, make_event("login")])
    assert first.accepted == [e.event_id for e in events] and first.duplicates == []
    assert again.duplicates == [e.event_id for e in events] and len(again.accepted) == 1
    profile = await service.get("u1")
    assert profile.event_count == 3 and profile.rfm.orders == 1
    assert len(await service.store.events("u1")) == 3


async def test_anonymous_profile_merges_into_the_known_one_and_is_gone(backend: Backend) -> None:
    service = make_service(backend)
    await service.ingest([
        make_event("product_view", "anon-7", anonymous=True,
                   properties={"product_id": "p1", "category": "tents"}),
        make_event("add_to_cart", "anon-7", anonymous=True,
                   properties={"product_id": "p1", "price": 199.0, "category": "tents"}),
    ])
    await service.ingest([make_event("page_view", "u9", properties={"category": "boots"})])
    login = make_event("login", "u9", anonymous_id="anon-7")
    report = await service.ingest([login])
    assert report.merged == {"anon-7": "u9"} and report.accepted == [login.event_id]

    known = await service.get("u9")
    assert set(known.affinities.scores) == {"tents", "boots"}
    assert [i.product_id for i in known.cart.items] == ["p1"]
    assert known.merged_from == ["anon-7"] and known.event_count == 4
    assert await service.find("anon-7") is None
    assert await service.store.events("anon-7") == []
    if backend.redis is not None:
        assert await keys_mentioning(backend, "anon-7") == []

    again = await service.merge("anon-7", "u9")
    assert again.event_count == known.event_count + 1  # only the merge marker is new
    assert again.cart == known.cart


async def test_listeners_hear_the_login_but_not_the_carried_over_history(
        backend: Backend) -> None:
    service = make_service(backend)
    recorder = Recorder()
    service.add_listener(recorder)
    await service.ingest([purchase("anon-3", 20, anonymous=True)])
    login = make_event("login", "u3", anonymous_id="anon-3")
    await service.ingest([login])
    assert recorder.heard[-1] == ("u3", [login.event_id], [Stage.new_customer])
    assert (await service.get("u3")).rfm.orders == 1


async def test_a_known_profile_is_never_merged_away(backend: Backend) -> None:
    service = make_service(backend)
    await service.ingest([make_event("login", "u1"), make_event("login", "u2")])
    await service.ingest([make_event("login", "u2", anonymous_id="u1")])
    assert await service.find("u1") is not None


def level(score: float) -> float:
    """The documented 0-1 scale of an affinity score (saturation 8)."""
    return 1.0 - math.exp(-score / 8.0)


async def test_affinities_decay_with_the_clock(backend: Backend) -> None:
    clock = FrozenClock(T0)
    service = make_service(backend, clock)
    await service.ingest([make_event("page_view", properties={"category": "boots"})])
    clock.advance(days=30)  # the default half-life
    profile = await service.get("u1")
    assert profile.affinities.scores["boots"] == pytest.approx(1.0)  # as of the view
    assert profile.affinities.current(clock())["boots"] == pytest.approx(level(0.5), abs=1e-3)
    await service.ingest([make_event("page_view", properties={"category": "boots"})])
    profile = await service.get("u1")
    assert profile.affinities.current(clock())["boots"] == pytest.approx(level(1.5), abs=1e-3)


async def test_lifecycle_transitions_are_recorded_and_heard(backend: Backend) -> None:
    clock = FrozenClock(T0)
    service = make_service(backend, clock)
    recorder = Recorder()
    service.add_listener(recorder)
    await service.ingest([make_event("login")])
    await service.ingest([purchase()])
    clock.advance(days=91)
    [refreshed] = await service.refresh(["u1", "nobody"])
    assert refreshed.stage == Stage.at_risk
    assert [stages for _, _, stages in recorder.heard] == [
        [Stage.prospect], [Stage.new_customer], [Stage.at_risk]]
    history = (await service.get("u1")).lifecycle.history
    # At risk since the day the order was 90 days old, not since the sweep noticed it.
    assert [(t.to_stage, t.at) for t in history] == [
        (Stage.prospect, T0), (Stage.new_customer, T0), (Stage.at_risk, T0 + timedelta(days=90))]
    await service.refresh(["u1"])
    assert len(recorder.heard) == 3  # nothing changed, nothing heard


async def test_a_failing_listener_does_not_lose_events(backend: Backend) -> None:
    class Broken:
        async def on_events(self, profile: Profile, events: Sequence[Event],
                            transitions: Sequence[Transition]) -> None:
            raise RuntimeError("automation down")

    service = make_service(backend)
    service.add_listener(Broken())
    report = await service.ingest([make_event("login")])
    assert len(report.accepted) == 1 and (await service.get("u1")).event_count == 1


async def test_consent_gates_the_profile_for_decisions(backend: Backend) -> None:
    service = make_service(backend)
    await service.ingest([make_event("page_view", properties={"category": "boots"})])
    assert profile_for_decision(await service.get("u1")) is None
    await service.patch("u1", consents={Purpose.personalisation: True}, source="preference-centre")
    profile = await service.get("u1")
    assert profile_for_decision(profile) == profile
    assert profile.consent[Purpose.personalisation].source == "preference-centre"


async def test_patch_corrects_attributes_of_existing_profiles_only(backend: Backend) -> None:
    service = make_service(backend)
    await service.ingest([make_event("page_view", "anon-1", anonymous=True)])
    patched = await service.patch("anon-1", attributes=AttributesUpdate(language="de"))
    assert patched.known.language == "de" and patched.anonymous
    with pytest.raises(ProfileNotFound):
        await service.patch("ghost", attributes=AttributesUpdate(language="de"))
    assert await service.find("ghost") is None


async def test_export_then_erasure_leaves_nothing(backend: Backend) -> None:
    store = make_store(backend)
    service = ProfileService(store, clock=FrozenClock(T0))
    await service.ingest([make_event("login", "ana@example.org"), purchase("ana@example.org")])
    await store.put_record("ana@example.org", "actions", "a1", {"type": "welcome"},
                           ttl=timedelta(days=1))
    await store.incr_personal("ana@example.org", "caps", {"item-1": 1}, ttl=timedelta(days=1))
    await store.put_decision("d-1", {"profile_id": "ana@example.org", "item": "x"},
                             profile_id="ana@example.org", ttl=timedelta(hours=1))
    exported = await service.export("ana@example.org")
    assert exported["profile"]["rfm"]["orders"] == 1
    assert len(exported["events"]) == 2
    assert exported["records"]["actions"] == {"a1": {"type": "welcome"}}
    assert exported["counters"]["caps"] == {"item-1": 1.0}
    assert exported["decisions"] == [{"profile_id": "ana@example.org", "item": "x"}]

    assert await service.erase("ana@example.org") is True
    assert await service.find("ana@example.org") is None
    with pytest.raises(ProfileNotFound):
        await service.export("ana@example.org")
    if backend.redis is not None:
        assert await keys_mentioning(backend, "ana@example.org") == []


async def test_fifty_concurrent_writers_lose_no_update(backend: Backend) -> None:
    service = make_service(backend)

    async def writer(n: int) -> None:
        for k in range(2):
            await service.ingest([purchase("hot", value=n + k),
                                  make_event("page_view", "hot", properties={"category": "x"})])

    await asyncio.gather(*(writer(n) for n in range(50)))
    profile = await service.get("hot")
    assert profile.event_count == 200
    assert profile.rfm.orders == 100
    assert profile.rfm.revenue == pytest.approx(sum(2 * n + 1 for n in range(50)))
    assert profile.affinities.scores["x"] == pytest.approx(100 * 1.0, abs=0.1)
    assert profile.affinities.scores["boots"] == pytest.approx(100 * 8.0, abs=0.5)


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_inactive_profiles_expire(backend: Backend) -> None:
    clock = FrozenClock(T0)
    service = ProfileService(make_store(backend, clock=clock, profile_ttl=timedelta(days=30)),
                             clock=clock)
    await service.ingest([make_event("login")])
    clock.advance(days=29)
    await service.ingest([make_event("page_view")])  # activity extends the profile's life
    clock.advance(days=29)
    assert await service.find("u1") is not None
    clock.advance(days=2)
    assert await service.find("u1") is None
