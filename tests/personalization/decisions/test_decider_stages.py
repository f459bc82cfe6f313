"""The stages of a decision: understand, gather (one read of the statistics), place, log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from personalization.decisions.decider import Decider, DeciderOptions
from personalization.decisions.understanding import understand
from personalization.store.memory_store import MemoryStore
from tests.personalization.decider_helpers import NOW, item, make_decider, request


class _CountingStore(MemoryStore):
    """Counts the batched counter reads (the bandit statistics)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[list[str]] = []

    async def get_many(self, keys: Sequence[str]) -> list[dict[str, float]]:
        self.reads.append(list(keys))
        return await super().get_many(keys)


class _BrokenReader:
    def read(self, context: Any, *, text: str | None = None, now: datetime | None = None) -> Any:
        raise RuntimeError("no situation today")


async def test_the_statistics_of_every_slot_are_one_read() -> None:
    store = _CountingStore()
    drafts = [item(f"hero-{n}") for n in range(3)] + [item(f"side-{n}", slot="side")
                                                       for n in range(3)]  # fmt: skip
    decider = await make_decider(store, drafts)
    decision = await decider.decide(request(slots=["hero", "side"]), NOW)
    assert not decision.degraded and len(store.reads) == 1
    read = {key.split(":")[1] for key in store.reads[0]}
    assert read == {f"{slot}-{n}" for slot in ("hero", "side") for n in range(3)}


async def test_an_item_placed_earlier_hands_its_place_to_the_next_best_with_statistics() -> None:
    # A shortlist of one: the side slot's best item is pinned to the hero, so the side's
    # policy chooses among the next best, whose statistics were read with the others.
    drafts = [
        item("hero-a"),
        item("side-a", slot="side", priority=100),
        item("side-b", slot="side", priority=60),
        item("side-c", slot="side", priority=0),
    ]
    built = await make_decider(_CountingStore(), drafts)
    decider = Decider(built.parts, DeciderOptions(shortlist=1))
    decision = await decider.decide(
        request(slots=["hero", "side"]), NOW, pinned={"hero": ("side-a", "the rule")}
    )
    assert decision.slots["hero"][0].item_id == "side-a"
    side = decision.slots["side"][0]
    assert side.item_id == "side-b" and not decision.degraded
    assert any(reason.startswith("learned:") for reason in side.reasons)


def test_understanding_survives_a_failing_situation_reader() -> None:
    understood = understand(
        request(text="wo ist meine bestellung"), NOW, reader=_BrokenReader(), intent=None,
        default_language="en", min_confidence=0.35,
    )  # fmt: skip
    assert understood.degraded and understood.situation is None
    assert understood.language == "de"  # from Accept-Language
    assert understood.text == "wo ist meine bestellung" and understood.phase is None
