"""A chat conversation's memory, and reading a message in the context of the previous turns.

:class:`ConversationMemory` keeps, per conversation, the last few turns (intent, phase, moment,
the entities mentioned) in the person's ``conversation`` records
(:class:`~personalization.store.protocols.PersonalRecords`): under the profile id for a known person
(so ``erase`` forgets it), else under ``s-<session_id>``; every write renews a time to live, and
the number of turns and entities is bounded.

:func:`interpret` turns the intent model's reading of one message into the conversation's
reading:

- **greetings** ("Hallo!", "hi there") are recognised as the intent ``greeting``;
- a **follow-up** — a short elliptical message ("und in Rot?", "and in size 42?") or one that
  opens like a follow-up ("und ...", "what about ...") — inherits the previous turn's intent,
  phase and moment unless the model is confident it means something else (``"what about
  returns?"`` is read as ``return_item``);
- **entities** (colour, category, size, order id) are extracted from each message and merged
  with those of earlier turns, so "und in Rot?" after "Ich suche Wanderschuhe" means red
  hiking boots;
- anything else the model calls **out of scope** stays out of scope: the caller answers with a
  polite fallback instead of guessing.

Every step is written into ``reasons``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from personalization.store.keys import session_owner
from personalization.store.protocols import PersonalRecords

PART = "conversation"
GREETING = "greeting"
OUT_OF_SCOPE = "out_of_scope"
UNKNOWN = "unknown"

_COLOURS: Mapping[str, str] = {
    "rot": "red", "rote": "red", "roten": "red", "red": "red",
    "blau": "blue", "blaue": "blue", "blauen": "blue", "blue": "blue",
    "grün": "green", "grüne": "green", "grünen": "green", "green": "green",
    "schwarz": "black", "schwarze": "black", "schwarzen": "black", "black": "black",
    "weiß": "white", "weiss": "white", "weiße": "white", "white": "white",
    "gelb": "yellow", "gelbe": "yellow", "yellow": "yellow",
    "grau": "grey", "graue": "grey", "grey": "grey", "gray": "grey",
    "orange": "orange", "braun": "brown", "brown": "brown",
}  # fmt: skip
_CATEGORIES: Sequence[tuple[str, str]] = (
    (r"wanderschuh\w*|hiking boots?|hiking shoes?|bergschuh\w*|trekkingschuh\w*", "hiking_boots"),
    (r"laufschuh\w*|running shoes?|trail ?runners?", "running_shoes"),
    (r"\w*jacke\w*|jackets?|anorak\w*", "jacket"),
    (r"rucks[aä]ck\w*|backpacks?|rucksacks?", "backpack"),
    (r"zelt\w*|tents?", "tent"),
    (r"schlafs[aä]ck\w*|sleeping bags?", "sleeping_bag"),
    (r"hose\w*|trousers|pants", "trousers"),
    (r"kletter\w*|climbing \w+|harness\w*", "climbing"),
    (r"schuh\w*|shoes?|boots?", "shoes"),
)
_ORDER_ID = re.compile(r"\b(BF[- ]?\d{5,10})\b", re.IGNORECASE)
_SIZE = re.compile(
    r"\b(?:gr(?:ö|oe)(?:ß|ss)e|size|gr\.)\s*([0-9]{2}(?:[.,]5)?|XXS|XS|S|M|L|XL|XXL)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\wäöüß]+", re.IGNORECASE)
_GREETINGS = frozenset({
    "hallo", "hi", "hey", "moin", "servus", "hello", "hiya", "grüezi", "guten tag",
    "guten morgen", "guten abend", "good morning", "good afternoon", "good evening",
    "hi there", "hallo zusammen", "hey there",
})  # fmt: skip
_FOLLOW_UP_OPENERS = re.compile(
    r"^(und|oder|aber|auch|noch|what about|how about|and|or|also|and what about|"
    r"und was ist mit|wie ist es mit|was ist mit|und wie)\b",
    re.IGNORECASE,
)


class Named(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def confidence(self) -> float: ...


class Prediction(Protocol):
    """What :func:`interpret` reads of ``intent.model.IntentPrediction``."""

    @property
    def intent(self) -> Named: ...
    @property
    def phase(self) -> Named: ...
    @property
    def moment(self) -> Named: ...
    @property
    def out_of_scope(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Reading:
    """What a message means in its conversation."""

    intent: str
    phase: str
    moment: str
    confidence: float
    out_of_scope: bool
    entities: dict[str, str]
    inherited: bool = False
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Turn:
    intent: str
    phase: str
    moment: str
    entities: dict[str, str]
    at: str
    language: str = ""

    def to_doc(self) -> dict[str, Any]:
        return {"intent": self.intent, "phase": self.phase, "moment": self.moment,
                "entities": dict(self.entities), "at": self.at,
                "language": self.language}  # fmt: skip

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Turn:
        entities = doc.get("entities")
        return cls(
            intent=str(doc.get("intent", UNKNOWN)),
            phase=str(doc.get("phase", UNKNOWN)),
            moment=str(doc.get("moment", UNKNOWN)),
            entities={str(k): str(v) for k, v in (entities or {}).items()},
            at=str(doc.get("at", "")),
            language=str(doc.get("language", "")),
        )


@dataclass(frozen=True, slots=True)
class Conversation:
    """The remembered turns of one conversation, oldest first."""

    turns: tuple[Turn, ...] = ()

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    @property
    def language(self) -> str | None:
        """The language of the latest turn, if any."""
        return self.turns[-1].language or None if self.turns else None

    @property
    def last_in_scope(self) -> Turn | None:
        for turn in reversed(self.turns):
            if turn.intent not in (OUT_OF_SCOPE, UNKNOWN, GREETING):
                return turn
        return None

    @property
    def entities(self) -> dict[str, str]:
        """Entities of all remembered turns, the latest value of each winning."""
        merged: dict[str, str] = {}
        for turn in self.turns:
            merged.update(turn.entities)
        return merged

    def count(self, moment: str) -> int:
        """How many remembered turns were in ``moment``."""
        return sum(1 for turn in self.turns if turn.moment == moment)

    def with_turn(self, turn: Turn, max_turns: int) -> Conversation:
        return replace(self, turns=(*self.turns, turn)[-max_turns:])


def extract_entities(text: str) -> dict[str, str]:
    """Colour, category, size and order id mentioned in ``text`` (German or English)."""
    found: dict[str, str] = {}
    lowered = text.casefold()
    for word in _WORD.findall(lowered):
        if word in _COLOURS:
            found["colour"] = _COLOURS[word]
    for pattern, category in _CATEGORIES:
        if re.search(rf"\b(?:{pattern})\b", lowered):
            found["category"] = category
            break
    if order := _ORDER_ID.search(text):
        found["order_id"] = re.sub(r"[- ]", "", order.group(1)).upper()
    if size := _SIZE.search(text):
        found["size"] = size.group(1).upper().replace(",", ".")
    return found


def is_greeting(text: str) -> bool:
    words = " ".join(_WORD.findall(text.casefold()))
    return words in _GREETINGS


def is_follow_up(text: str, *, max_words: int = 4) -> bool:
    """A short elliptical message, or one that opens like a follow-up."""
    words = _WORD.findall(text)
    return bool(words) and (len(words) <= max_words or bool(_FOLLOW_UP_OPENERS.match(text.strip())))


def interpret(
    text: str,
    prediction: Prediction,
    conversation: Conversation,
    *,
    confident: float = 0.6,
) -> Reading:
    """Read ``text`` (classified as ``prediction``) in the context of ``conversation``.

    A follow-up inherits the last in-scope turn's intent when the model's own intent is out of
    scope or below ``confident``. Entities are the conversation's merged with the message's.
    """
    own = extract_entities(text)
    previous = conversation.last_in_scope
    entities = {**conversation.entities, **own}
    intent, phase, moment = prediction.intent, prediction.phase, prediction.moment
    if is_greeting(text):
        return Reading(GREETING, UNKNOWN, UNKNOWN, 1.0, False, entities,
                       reasons=["a greeting"])  # fmt: skip
    model_sure = not prediction.out_of_scope and intent.confidence >= confident
    if previous is not None and is_follow_up(text) and not model_sure:
        reasons = [
            f"follow-up: '{text.strip()}' continues the previous turn, so it inherits "
            f"{previous.intent} ({previous.phase}/{previous.moment})",
            f"the model alone said {intent.name} ({intent.confidence:.2f})",
        ]
        if own:
            reasons.append("new details: " + ", ".join(f"{k}={v}" for k, v in own.items()))
        return Reading(previous.intent, previous.phase, previous.moment, intent.confidence,
                       False, entities, inherited=True, reasons=reasons)  # fmt: skip
    if prediction.out_of_scope or intent.name in (OUT_OF_SCOPE, UNKNOWN):
        return Reading(OUT_OF_SCOPE, UNKNOWN, UNKNOWN, intent.confidence, True, entities,
                       reasons=["out of scope: the model found no intent it knows"])  # fmt: skip
    return Reading(
        intent.name, phase.name, moment.name, intent.confidence, False, entities,
        reasons=[f"intent {intent.name} ({intent.confidence:.2f}), "
                 f"{phase.name}/{moment.name}"],
    )  # fmt: skip


class ConversationMemory:
    """Conversations in the person's ``conversation`` records, bounded and expiring.

    >>> memory = ConversationMemory(store)
    >>> conversation = await memory.load("s-abc", "abc")
    >>> await memory.append("s-abc", "abc", conversation, reading, now)
    """

    def __init__(
        self,
        records: PersonalRecords,
        *,
        max_turns: int = 6,
        ttl: timedelta = timedelta(minutes=30),
        max_entities: int = 8,
    ) -> None:
        assert max_turns >= 1 and max_entities >= 1, "bounds must be positive"
        self.records = records
        self.max_turns = max_turns
        self.ttl = ttl
        self.max_entities = max_entities

    owner = staticmethod(session_owner)
    """Whose records hold the conversation: the profile, else the anonymous session."""

    async def load(
        self, owner: str, session_id: str, now: datetime | None = None
    ) -> Conversation:
        """The remembered conversation; empty when there is none or (given ``now``) when its
        last turn is older than the time to live — the person's other records may live longer
        than one conversation."""
        records = await self.records.get_records(owner, PART)
        doc = records.get(session_id)
        if not doc:
            return Conversation()
        turns = doc.get("turns")
        if not isinstance(turns, list):
            return Conversation()
        conversation = Conversation(
            tuple(Turn.from_doc(t) for t in turns if isinstance(t, dict))
        )
        last = conversation.last
        if now is not None and last is not None:
            try:
                if datetime.fromisoformat(last.at) + self.ttl <= now:
                    return Conversation()
            except ValueError:
                return Conversation()
        return conversation

    async def append(
        self,
        owner: str,
        session_id: str,
        conversation: Conversation,
        reading: Reading,
        now: datetime,
        language: str = "",
    ) -> Conversation:
        """Remember ``reading`` as the newest turn; returns the conversation with it."""
        entities = dict(list(reading.entities.items())[-self.max_entities :])
        turn = Turn(reading.intent, reading.phase, reading.moment, entities, now.isoformat(),
                    language)  # fmt: skip
        updated = conversation.with_turn(turn, self.max_turns)
        await self.records.put_record(
            owner, PART, session_id, {"turns": [t.to_doc() for t in updated.turns]},
            ttl=self.ttl,
        )  # fmt: skip
        return updated
