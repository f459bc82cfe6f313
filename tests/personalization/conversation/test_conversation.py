"""Reading chat messages in their conversation, and the bounded, expiring conversation memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from personalization.conversation.memory import (
    Conversation,
    ConversationMemory,
    Turn,
    extract_entities,
    interpret,
    is_follow_up,
)
from personalization.store.memory_store import MemoryStore
from tests.conftest import Backend
from tests.factories import make_store

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class _Named:
    name: str
    confidence: float


@dataclass(frozen=True)
class _Prediction:
    intent: _Named
    phase: _Named
    moment: _Named
    out_of_scope: bool = False


def _prediction(intent: str, phase: str, moment: str, confidence: float) -> _Prediction:
    return _Prediction(_Named(intent, confidence), _Named(phase, confidence),
                       _Named(moment, confidence))  # fmt: skip


OUT = _Prediction(_Named("out_of_scope", 0.2), _Named("unknown", 0.0), _Named("unknown", 0.0),
                  out_of_scope=True)  # fmt: skip
SHOES = Conversation((Turn("product_question", "consider", "know",
                           {"category": "hiking_boots"}, T0.isoformat(), "de"),))  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("und in Rot?", {"colour": "red"}),
        ("Habt ihr die Wanderschuhe in Größe 42,5?", {"category": "hiking_boots", "size": "42.5"}),
        ("Meine Bestellnummer ist bf-1234567", {"order_id": "BF1234567"}),
        ("a black rain jacket, size XL", {"colour": "black", "category": "jacket", "size": "XL"}),
        ("Wie ist das Wetter?", {}),
    ],
)
def test_entities(text: str, expected: dict[str, str]) -> None:
    assert extract_entities(text) == expected


def test_short_or_opening_messages_are_follow_ups() -> None:
    assert is_follow_up("und in Rot?")
    assert is_follow_up("what about the return policy for sale items?")
    assert not is_follow_up("Ich möchte meine Bestellung vom letzten Dienstag stornieren")


def test_an_elliptical_follow_up_inherits_the_previous_intent() -> None:
    reading = interpret("und in Rot?", OUT, SHOES)
    assert (reading.intent, reading.phase, reading.moment) == (
        "product_question", "consider", "know",
    )  # fmt: skip
    assert reading.inherited and not reading.out_of_scope
    assert reading.entities == {"category": "hiking_boots", "colour": "red"}


def test_a_confident_reading_wins_over_the_previous_turn() -> None:
    reading = interpret("what about returns?", _prediction("return_item", "use", "service", 0.85),
                        SHOES)  # fmt: skip
    assert reading.intent == "return_item" and not reading.inherited


def test_out_of_scope_without_context_is_not_a_guess() -> None:
    reading = interpret("und in Rot?", OUT, Conversation())
    assert reading.out_of_scope and reading.intent == "out_of_scope"
    long_off_topic = interpret("Wer gewinnt heute das Fußballspiel in München?", OUT, SHOES)
    assert long_off_topic.out_of_scope


def test_greetings() -> None:
    assert interpret("Hallo!", OUT, Conversation()).intent == "greeting"
    assert interpret("Good morning", OUT, Conversation()).intent == "greeting"


async def test_memory_is_bounded_and_per_session(backend: Backend) -> None:
    store = make_store(backend)
    memory = ConversationMemory(store, max_turns=3)
    conversation = await memory.load("p-1", "s-1")
    for i in range(5):
        reading = interpret(f"frage {i}", _prediction("track_order", "use", "service", 0.9),
                            conversation)  # fmt: skip
        conversation = await memory.append("p-1", "s-1", conversation, reading, T0, "de")
    stored = await memory.load("p-1", "s-1")
    assert len(stored.turns) == 3 and stored.language == "de"
    assert (await memory.load("p-1", "s-2")).turns == ()
    assert await store.erase("p-1")
    assert (await memory.load("p-1", "s-1")).turns == ()


async def test_memory_expires() -> None:
    now = [T0]
    store = MemoryStore(profile_ttl=timedelta(days=30), clock=lambda: now[0])
    memory = ConversationMemory(store, ttl=timedelta(minutes=30))
    owner = memory.owner(None, "abc")
    assert owner == "s-abc"
    reading = interpret("Wo ist mein Paket?", _prediction("track_order", "use", "service", 0.9),
                        Conversation())  # fmt: skip
    await memory.append(owner, "abc", Conversation(), reading, T0)
    now[0] = T0 + timedelta(minutes=20)
    assert len((await memory.load(owner, "abc")).turns) == 1
    now[0] = T0 + timedelta(minutes=31)
    assert (await memory.load(owner, "abc")).turns == ()


async def test_a_known_persons_conversation_ends_after_its_time_to_live() -> None:
    store = MemoryStore(profile_ttl=timedelta(days=30))
    memory = ConversationMemory(store, ttl=timedelta(minutes=30))
    reading = interpret("Wo ist mein Paket?", _prediction("track_order", "use", "service", 0.9),
                        Conversation())  # fmt: skip
    await memory.append("p-7", "s-7", Conversation(), reading, T0)
    assert len((await memory.load("p-7", "s-7", T0 + timedelta(minutes=29))).turns) == 1
    assert (await memory.load("p-7", "s-7", T0 + timedelta(minutes=30))).turns == ()
