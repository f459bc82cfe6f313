"""``POST /v1/chat``: one message of a chatbot conversation in, the reading and the reply out.

Per message: the intent model reads it, :func:`personalization.conversation.memory.interpret` reads
it in the context of the conversation's earlier turns (follow-ups inherit, entities carry over,
out of scope stays out of scope), automation names the next action (``human_handover`` when a
problem keeps coming back, or when the person asks for one), and the reply is a ``chat_reply``
item of the pool: the live item tagged ``intent:<intent>`` in the conversation's language, else
the one whose phase and moment fit best, else the slot's default. The decider logs the turn as a
decision with that reply pinned (so feedback on the reply counts; the bandit does not learn from
a rule's choice) and renders it in the sandbox with what the person consented to. The turn is
remembered (:class:`~personalization.conversation.memory.ConversationMemory`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from content_pool.models import ContentItem
from content_pool.pool import ContentPool
from intent.errors import ModelNotReady
from intent.service import IntentService
from intent.situation.context import ContextInput, from_headers
from personalization.automation.next_action import NextAction, NextActionPlanner
from personalization.automation.person import Person, person_of
from personalization.conversation.memory import (
    GREETING,
    OUT_OF_SCOPE,
    ConversationMemory,
    Reading,
    interpret,
)
from personalization.decisions.models import DecisionRequest, SituationSummary
from personalization.profiles.consent import Purpose, allows
from personalization.profiles.ids import ProfileId
from personalization.profiles.service import ProfileService
from service.auth import CallerDep
from service.deps import (
    AutomationDep,
    DeciderDep,
    OptionalIntentServiceDep,
    ProfileServiceDep,
    SettingsDep,
    StoreDep,
)

router = APIRouter(prefix="/v1", tags=["chat"])

SLOT = "chat_reply"
HANDOVER_INTENTS = frozenset({"human_agent", "human_handover"})
_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
QUICK_REPLIES: dict[str, dict[str, list[str]]] = {
    "de": {
        "service": [
            "Bestellung verfolgen", "Artikel zurückschicken", "Mit einem Menschen sprechen",
        ],
        "problem": ["Artikel zurückschicken", "Mit einem Menschen sprechen"],
        "go": ["Öffnungszeiten", "Click & Collect"],
        "buy": ["Zahlungsarten", "Versandkosten"],
        "know": ["Beratung zu Wanderschuhen", "Neuheiten"],
        "default": ["Bestellung verfolgen", "Filiale finden", "Produktberatung"],
    },
    "en": {
        "service": ["Track my order", "Return an item", "Talk to a person"],
        "problem": ["Return an item", "Talk to a person"],
        "go": ["Opening hours", "Click & collect"],
        "buy": ["Payment methods", "Delivery costs"],
        "know": ["Advice on hiking boots", "What's new"],
        "default": ["Track my order", "Find a store", "Product advice"],
    },
}


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    session_id: str = Field(pattern=_ID)
    profile_id: ProfileId | None = None
    message: str = Field(min_length=1, max_length=2000)
    channel: Literal["chat", "web", "app", "messenger"] = "chat"
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    context: ContextInput = Field(default_factory=ContextInput)


class ChatReply(BaseModel):
    """The rendered reply. ``in_decision``: the turn's decision logged it, so ``/v1/feedback``
    accepts events for it (always, unless the reply could not be chosen at all)."""

    item_id: str
    text: str
    chosen_by: str
    in_decision: bool


class ChatAnswer(BaseModel):
    intent: str
    confidence: float
    phase: str
    moment: str
    out_of_scope: bool
    inherited: bool
    entities: dict[str, str]
    language: str
    reply: ChatReply | None
    quick_replies: list[str]
    next_action: NextAction | None
    decision_id: str | None
    situation: SituationSummary | None
    reasons: list[str]


async def get_intent_service(service: OptionalIntentServiceDep) -> IntentService:
    if service is None:
        raise ModelNotReady("the intent model is not loaded in this Kairos")
    return service


async def get_planner(automation: AutomationDep) -> NextActionPlanner:
    """The automation's planner (programmes replaced through the API included)."""
    return automation.planner


async def get_memory(settings: SettingsDep, store: StoreDep) -> ConversationMemory:
    return ConversationMemory(
        store,
        max_turns=settings.chat_max_turns,
        ttl=timedelta(minutes=settings.chat_conversation_minutes),
    )


IntentDep = Annotated[IntentService, Depends(get_intent_service)]
PlannerDep = Annotated[NextActionPlanner, Depends(get_planner)]
MemoryDep = Annotated[ConversationMemory, Depends(get_memory)]


def choose_reply(
    pool: ContentPool, reading: Reading, language: str, now: datetime, *, handover: bool
) -> tuple[ContentItem | None, str]:
    """The chat_reply item for this reading, and how it was chosen."""
    candidates: Sequence[ContentItem] = pool.eligible(SLOT, "chat", language, now)
    wanted = "human_handover" if handover else reading.intent
    tagged = [item for item in candidates if f"intent:{wanted}" in item.tags]
    if tagged:
        return tagged[0], f"tagged intent:{wanted}"
    if handover:
        tagged = [item for item in candidates if "handover" in item.tags]
        if tagged:
            return tagged[0], "tagged handover"
    special = {f"intent:{name}" for name in (OUT_OF_SCOPE, GREETING, "human_handover")}

    def fit(item: ContentItem) -> tuple[int, int]:
        targeting = item.targeting
        score = 2 * (reading.moment in targeting.moments) + (reading.phase in targeting.phases)
        return score, item.priority

    ranked = sorted(
        (item for item in candidates if not special & set(item.tags)), key=fit, reverse=True
    )
    if ranked and fit(ranked[0])[0] > 0:
        return ranked[0], f"best phase/moment fit ({reading.phase}/{reading.moment})"
    defaults = pool.defaults(SLOT, language, "chat", now)
    return (defaults[0], "the slot's default") if defaults else (None, "no reply item")


async def _person(
    profiles: ProfileService, profile_id: str | None, language: str, problems_here: int
) -> Person:
    """The automation's view of the person: their profile when there is one and they consent
    to personalisation, with the problem moments of this conversation counted too."""
    profile = await profiles.find(profile_id) if profile_id else None
    if profile is None or not allows(profile, Purpose.personalisation):
        return Person(profile_id=profile_id, known=profile_id is not None, language=language,
                      problem_moments=problems_here)  # fmt: skip
    person = person_of(profile)
    return replace(person, language=person.language or language,
                   problem_moments=max(person.problem_moments, problems_here))  # fmt: skip


def _primary(accept_language: str | None) -> str | None:
    code = (accept_language or "")[:2].lower()
    return code if code in ("de", "en") else None


def _handover(profile_id: str | None, item: ContentItem | None, reading: Reading,
              now: datetime) -> NextAction:  # fmt: skip
    return NextAction(
        action_id=uuid.uuid4().hex, profile_id=profile_id, type="human_handover",
        programme="human_handover", step="handover", channel="chat", send_at=now,
        content_id=item.id if item else None, priority=95,
        reasons=[f"the person asks for a human ({reading.intent})",
                 "channel chat: the person is here now"],
    )  # fmt: skip


@router.post("/chat", summary="Understand a chat message in its conversation and answer it")
async def chat(
    body: ChatRequest,
    request: Request,
    decider: DeciderDep,
    intents: IntentDep,
    planner: PlannerDep,
    memory: MemoryDep,
    profiles: ProfileServiceDep,
    caller: CallerDep,
) -> ChatAnswer:
    now = datetime.now(UTC)
    # With the site key the person is only the one of X-Kairos-Identity (see service.auth).
    body = body.model_copy(update={"profile_id": caller.person(body.profile_id)})
    owner = memory.owner(body.profile_id, body.session_id)
    conversation = await memory.load(owner, body.session_id, now)
    # The conversation's language: stated, else kept from earlier turns, else the browser's,
    # else detected (short messages such as "Hallo!" are too short to detect reliably).
    language = body.lang or conversation.language or _primary(body.context.accept_language)
    prediction = intents.predict([body.message], langs=[language])[0]
    language = language or prediction.language or decider.options.default_language
    if language not in ("de", "en"):
        language = decider.options.default_language
    reading = interpret(body.message, prediction, conversation)

    unknown = SimpleNamespace(name="unknown", confidence=0.0)
    as_prediction = SimpleNamespace(
        intent=SimpleNamespace(name=reading.intent, confidence=reading.confidence),
        phase=SimpleNamespace(name=reading.phase, confidence=reading.confidence)
        if reading.phase != "unknown" else unknown,
        moment=SimpleNamespace(name=reading.moment, confidence=reading.confidence)
        if reading.moment != "unknown" else unknown,
    )  # fmt: skip
    person = await _person(profiles, body.profile_id, language, conversation.count("problem"))
    situation = SimpleNamespace(language=SimpleNamespace(code=language))
    action = None if reading.out_of_scope else planner.immediate(
        person, situation, as_prediction, now
    )  # fmt: skip
    explicit = reading.intent in HANDOVER_INTENTS
    handover = explicit or (action is not None and action.type == "human_handover")
    item, chosen_by = choose_reply(decider.pool, reading, language, now, handover=handover)
    if explicit and (action is None or action.type != "human_handover"):
        action = _handover(body.profile_id, item, reading, now)

    # The reply chosen for the intent is the decision's choice for the slot: logged (feedback
    # on it counts), rendered with what the person consented to, not learned by the bandit.
    context = from_headers(body.context, request.headers)
    decision = await decider.decide(
        DecisionRequest(
            session_id=body.session_id, profile_id=body.profile_id, slots=[SLOT],
            context=context, text=body.message, lang=language, channel="chat",
        ),
        now,
        pinned={SLOT: (item.id, f"chat reply: {chosen_by}")} if item is not None else None,
    )  # fmt: skip
    reply = None
    placed = decision.slots.get(SLOT) or []
    if item is not None and placed and placed[0].item_id == item.id:
        reply = ChatReply(item_id=item.id, text=placed[0].text or "", chosen_by=chosen_by,
                          in_decision=True)  # fmt: skip
    elif item is not None:  # the item would not render: answer with what the decision placed
        fallback = placed[0] if placed else None
        if fallback is not None:
            reply = ChatReply(item_id=fallback.item_id, text=fallback.text or "",
                              chosen_by="the decision (the chosen reply did not render)",
                              in_decision=True)  # fmt: skip
    await memory.append(owner, body.session_id, conversation, reading, now, language)
    quick = QUICK_REPLIES.get(language, QUICK_REPLIES["en"])
    return ChatAnswer(
        intent=reading.intent, confidence=round(reading.confidence, 4), phase=reading.phase,
        moment=reading.moment, out_of_scope=reading.out_of_scope, inherited=reading.inherited,
        entities=reading.entities, language=language, reply=reply,
        quick_replies=[] if handover else quick.get(reading.moment, quick["default"]),
        next_action=action, decision_id=decision.decision_id, situation=decision.situation,
        reasons=[*reading.reasons, f"reply: {chosen_by}"],
    )  # fmt: skip
