"""The decision as a value: what a site or bot asks (:class:`DecisionRequest`) and what Kairos
answers (:class:`Decision`), plus the small views of situation, intent and profile the decider
reasons with.

These are domain models (pydantic, frozen); the HTTP layer reuses them as request and response
bodies so there is one definition of the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from content_pool.models import Channel
from intent.situation.context import ContextInput
from personalization.profiles.ids import ProfileId

FeedbackEvent = Literal["impression", "click", "conversion", "dismiss"]
"""What a site reports about a shown item. Clicks and conversions are the bandit's reward."""

UNKNOWN = "unknown"

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class DecisionRequest(BaseModel):
    """One page view or chat turn asking for content.

    ``context`` is the situation input (user agent, referrer, url, accept_language, country,
    timezone, ...; see ``intent.situation.context.ContextInput``). ``text`` is an utterance or
    on-site search; ``lang`` overrides the detected language. ``slots`` are filled in order,
    and an item is never used twice across them. ``channel`` restricts the items to one channel
    (default: every channel that has the slot).
    """

    model_config = _FROZEN

    session_id: str = Field(pattern=_ID)
    profile_id: ProfileId | None = None
    anonymous_id: ProfileId | None = None
    slots: list[str] = Field(min_length=1, max_length=20, examples=[["hero", "sidebar"]])
    context: ContextInput = Field(default_factory=ContextInput)
    text: str | None = Field(default=None, max_length=2000)
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    channel: Channel | None = None
    items_per_slot: int = Field(default=1, ge=1, le=10)

    @field_validator("slots")
    @classmethod
    def _distinct_slots(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each slot may be asked for once")
        return value


class ScoredItem(BaseModel):
    """One chosen item, rendered, with the score and the reasons behind it."""

    model_config = _FROZEN

    item_id: str
    version: int
    channel: Channel
    html: str | None = None
    text: str | None = None
    score: float
    propensity: float | None = Field(
        default=None, description="Probability the policy had of choosing this item first."
    )
    reasons: list[str]


class SituationSummary(BaseModel):
    """The parts of the situation the decision used (shown to explain it)."""

    model_config = _FROZEN

    device: str = UNKNOWN
    medium: str = UNKNOWN
    search_term: str | None = None
    language: str | None = None
    daypart: str | None = None
    interests: dict[str, float] = Field(
        default_factory=dict,
        description="What the visitor is after right now: category -> confidence (0-1).",
    )


class Named(BaseModel):
    """A name with a confidence in [0, 1]."""

    model_config = _FROZEN

    name: str
    confidence: float = Field(ge=0.0, le=1.0)


class Decision(BaseModel):
    """The answer: what to show in each slot, and why.

    ``degraded`` is true when a dependency (intent model, profile store, bandit statistics)
    failed and the decision fell back to what was still available; the answer is still usable.
    ``next_action`` stays ``None`` until the automation part decides one.
    """

    model_config = _FROZEN

    decision_id: str
    situation: SituationSummary
    intent: Named | None = None
    phase: Named | None = None
    moment: Named | None = None
    lifecycle: str = "anonymous"
    personalised: bool = False
    in_control_group: bool = False
    slots: dict[str, list[ScoredItem]]
    next_action: dict[str, Any] | None = None
    degraded: bool = False


class Feedback(BaseModel):
    """What happened to a shown item."""

    model_config = _FROZEN

    decision_id: str = Field(pattern=_ID)
    item_id: str = Field(min_length=1, max_length=100)
    event: FeedbackEvent
    value: float | None = Field(default=None, ge=0, description="Conversion value, if any.")


@dataclass(frozen=True, slots=True)
class DecisionProfile:
    """The profile data a decision may use: only built when personalisation consent is given.

    ``affinities`` maps a topic (an item category) to a weight in [0, 1].
    """

    profile_id: str
    lifecycle: str = "anonymous"
    affinities: Mapping[str, float] = field(default_factory=dict)
    first_name: str | None = None

    def interests(self, limit: int = 3) -> list[str]:
        """The strongest topics first."""
        return sorted(self.affinities, key=lambda topic: -self.affinities[topic])[:limit]


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """Everything known about this request once situation, intent and profile are read.

    ``phase`` and ``moment`` are ``"unknown"`` when there was no text or the model was unsure.
    ``profile`` is ``None`` without personalisation consent (and for anonymous visitors).
    ``interests`` is the interest of the moment: category -> confidence in [0, 1], read from
    this visit (search term, landing page, campaign, text, earlier pages of the session);
    ``interest_evidence`` says in words where each came from (``"searched for 'zelt'"``).
    """

    language: str
    channel: Channel | None
    situation: SituationSummary
    phase: str = UNKNOWN
    moment: str = UNKNOWN
    intent: str | None = None
    text: str | None = None
    device: str = UNKNOWN
    profile: DecisionProfile | None = None
    situation_view: Mapping[str, Any] = field(default_factory=dict)
    interests: Mapping[str, float] = field(default_factory=dict)
    interest_evidence: Mapping[str, str] = field(default_factory=dict)

    @property
    def lifecycle(self) -> str:
        return self.profile.lifecycle if self.profile else "anonymous"

    def audience_context(self) -> dict[str, Any]:
        """The mapping audience conditions are evaluated against (no profile without consent)."""
        profile: dict[str, Any] = {}
        if self.profile is not None:
            profile = {
                "lifecycle": self.profile.lifecycle,
                "affinities": dict(self.profile.affinities),
                "interests": self.profile.interests(),
            }
        view = dict(self.situation_view)
        return {
            **view,
            "situation": view,
            "intent": {"name": self.intent, "phase": self.phase, "moment": self.moment},
            "phase": self.phase,
            "moment": self.moment,
            "interests": dict(self.interests),
            "profile": profile,
        }
