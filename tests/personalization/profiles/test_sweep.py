"""The lifecycle sweep turns silence into transitions: reactivation starts without any event."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from personalization.profiles.sweep import LifecycleSweep
from tests.personalization.automation.test_automation import World, purchase


async def test_silence_alone_makes_a_customer_at_risk_and_starts_reactivation() -> None:
    world = World()
    for person in ("anna", "ben", "cleo"):
        await world.customer(person)
        await world.event("purchase", person, **purchase())
    await world.advance(days=30)
    await world.event("purchase", "cleo", **purchase())  # cleo keeps buying
    await world.advance(days=62)  # anna and ben: 92 days without an order, and no event

    sweep = LifecycleSweep(world.profiles, world.store.scan_profile_ids, every=timedelta(days=1),
                           batch_size=2)
    assert await sweep.run_once() == 3
    published = await world.advance(seconds=1)
    reactivated = sorted(r.profile_id for r in published if r.programme == "reactivation")
    assert reactivated == ["anna", "ben"]
    assert (await world.profiles.get("anna")).stage == "at_risk"
    assert (await world.profiles.get("cleo")).stage != "at_risk"


async def test_only_the_holder_of_the_interval_lock_sweeps() -> None:
    world = World()
    await world.customer("anna")
    held: list[timedelta] = []

    async def someone_else_has_it(ttl: timedelta) -> bool:
        held.append(ttl)
        return False

    sweep = LifecycleSweep(world.profiles, world.store.scan_profile_ids, every=timedelta(hours=1),
                           acquire=someone_else_has_it)
    stop = asyncio.Event()
    task = asyncio.create_task(sweep.run(stop))
    await asyncio.sleep(0.05)
    stop.set()
    await task
    assert held == [timedelta(hours=1)] and sweep.swept == 0
