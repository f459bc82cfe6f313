"""Stage 1 of a decision, *understand*: the situation and the text -> intent, phase, moment,
and the interest of the moment (what the visitor is after now, with its evidence in words).

Reads nothing from the store (the interests of the visit's earlier requests are handed in). A
failing situation reader or intent model never fails the decision: the stage answers with what
is still known and marks itself ``degraded``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from intent.interest import Interest
from personalization.decisions.models import UNKNOWN, DecisionRequest, Named, SituationSummary
from personalization.decisions.parts import IntentPredictor, SituationReader

log = logging.getLogger("kairos.decisions")


@dataclass(frozen=True, slots=True)
class Understanding:
    """What the request says about the moment, before anything is read about the person.

    ``situation`` is the reader's answer (``None`` without a reader or when it failed),
    ``summary`` the part shown in the answer and ``view`` what templates and audiences see.
    ``text`` is the utterance or, failing that, the search term; ``prediction`` the intent
    model's raw answer for it. ``intent``, ``phase`` and ``moment`` are ``None`` below the
    confidence threshold or out of scope. ``interests`` maps each category the visitor is after
    now to its confidence, ``interest_evidence`` says in words where the strongest evidence of
    each came from; ``is_bot`` marks a crawler (it gets the slot defaults and is not counted).
    """

    situation: Any
    summary: SituationSummary
    view: dict[str, Any]
    language: str
    text: str | None
    prediction: Any
    intent: Named | None
    phase: Named | None
    moment: Named | None
    degraded: bool
    interests: Mapping[str, float] = field(default_factory=dict)
    interest_evidence: Mapping[str, str] = field(default_factory=dict)

    channel: str | None = None

    @property
    def is_bot(self) -> bool:
        """A crawler asking for a page. A chat turn is a person writing, whatever client
        (often a bot platform's HTTP library) carries it."""
        return self.summary.device == "bot" and self.channel != "chat"

    @property
    def confidences(self) -> tuple[float, float]:
        """The confidence of the phase and of the moment (0 when unknown)."""
        return (self.phase.confidence if self.phase else 0.0,
                self.moment.confidence if self.moment else 0.0)  # fmt: skip


def understand(
    request: DecisionRequest,
    now: datetime,
    *,
    reader: SituationReader | None,
    intent: IntentPredictor | None,
    default_language: str,
    min_confidence: float,
    earlier: Mapping[str, float] | None = None,
) -> Understanding:
    """Read the situation of ``request`` and recognise the intent of its text, if any.

    ``earlier`` are the interests of the visit so far (category -> confidence); the reader
    fades them and blends them with what this request says.
    """
    degraded = False
    situation = None
    session = ([[Interest(category=c, confidence=v) for c, v in earlier.items()]]
               if earlier else [])  # fmt: skip
    if reader is not None:
        try:
            situation = reader.read(request.context, text=request.text, now=now,
                                    session_interests=session)  # fmt: skip
        except Exception:  # the reader promises not to raise; never fail a page for it
            log.exception("situation reader failed")
            degraded = True
    interests, evidence = _interests(situation)
    summary, view = _summarise(situation, request, interests)
    language = request.lang or summary.language or default_language
    text = request.text or summary.search_term
    named: tuple[Named | None, Named | None, Named | None] = (None, None, None)
    prediction: Any = None
    if text and intent is not None:
        try:
            prediction = intent.predict([text], langs=[language], situations=[situation])[0]
            named = _named(prediction, min_confidence)
        except Exception:
            log.exception("intent prediction failed")
            degraded = True
    return Understanding(situation, summary, view, language, text, prediction, *named, degraded,
                         interests, evidence, request.channel)  # fmt: skip


_SAID = {
    "search_term": "searched for '{}'",
    "site_search": "searched the shop for '{}'",
    "utterance": "wrote '{}'",
    "landing_path": "landed on {}",
    "page_title": "is reading '{}'",
    "product": "is looking at '{}'",
    "utm_campaign": "came from the campaign '{}'",
    "utm_content": "came from the campaign content '{}'",
    "utm_term": "came from the campaign term '{}'",
    "session": "was after it earlier in this visit",
}


def _interests(situation: Any) -> tuple[dict[str, float], dict[str, str]]:
    """Category -> confidence, and category -> the strongest evidence in words."""
    interests: dict[str, float] = {}
    evidence: dict[str, str] = {}
    for interest in getattr(situation, "interests", None) or ():
        interests[interest.category] = round(float(interest.confidence), 4)
        if interest.evidence:
            best = max(interest.evidence, key=lambda e: e.weight)
            evidence[interest.category] = _SAID[best.signal].format(best.text[:80])
    return interests, evidence


def _named(prediction: Any, threshold: float) -> tuple[Named | None, Named | None, Named | None]:
    def pick(scored: Any) -> Named | None:
        name = getattr(scored, "name", None)
        confidence = float(getattr(scored, "confidence", 0.0))
        if not name or name in (UNKNOWN, "out_of_scope") or confidence < threshold:
            return None
        return Named(name=name, confidence=min(1.0, max(0.0, confidence)))

    if getattr(prediction, "out_of_scope", False):
        return None, None, None
    return pick(prediction.intent), pick(prediction.phase), pick(prediction.moment)


def _summarise(
    situation: Any, request: DecisionRequest, interests: Mapping[str, float]
) -> tuple[SituationSummary, dict[str, Any]]:
    """The summary shown in the answer and the view templates and audiences see."""
    if situation is None:
        accept = (request.context.accept_language or "")[:2].lower()
        language = accept if accept.isalpha() and len(accept) == 2 else None
        summary = SituationSummary(language=language)
        view: dict[str, Any] = {"device": {"type": UNKNOWN}, "source": {"medium": UNKNOWN},
                                "language": language}  # fmt: skip
        return summary, view
    device, source = situation.device, situation.source
    language = situation.language.code
    summary = SituationSummary(
        device=device.type or UNKNOWN,
        medium=source.medium or UNKNOWN,
        search_term=source.search_term,
        language=language,
        daypart=situation.daypart,
        interests=dict(interests),
    )
    view = {
        "device": {"type": device.type, "os": device.os, "browser": device.browser},
        "source": {"medium": source.medium, "name": source.source, "term": source.search_term,
                   "campaign": source.campaign},
        "language": language,
        "country": situation.country,
        "daypart": situation.daypart,
        "weekday": situation.weekday,
        "returning": situation.is_returning,
        "interests": dict(interests),
    }  # fmt: skip
    return summary, view
