"""What a :class:`~personalization.decisions.decider.Decider` is built from.

:class:`DeciderParts` bundles the collaborators (pool, store, renderer, policy, models and the
services a decision consults), :class:`DeciderOptions` the knobs. Both are frozen: a decider is
given everything at construction. The protocols name what the decision needs of each
collaborator, so tests pass small in-process implementations.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np

from content_pool.pool import ContentPool
from content_pool.render import Renderer
from personalization.clock import Clock, system_clock
from personalization.decisions.holdout import Holdout
from personalization.decisions.models import DecisionProfile
from personalization.decisions.policies import Bandit
from personalization.decisions.ranking import FeatureIndex, Ranker
from personalization.decisions.session_memory import VisitMemory
from personalization.profiles.sensitivity import SensitivityPolicy
from personalization.store.protocols import Counters, DecisionLog, PersonalRecords


class DecisionStore(DecisionLog, Counters, PersonalRecords, Protocol):
    """The parts of the store a decision uses (both MemoryStore and RedisStore are one)."""


class SituationReader(Protocol):
    """``intent.situation.SituationReader``: the situation of one request."""

    def read(
        self,
        context: Any,
        *,
        text: str | None = None,
        now: datetime | None = None,
        session_interests: Sequence[Sequence[Any]] = (),
    ) -> Any: ...


class IntentPredictor(Protocol):
    """``intent.service.IntentService`` / ``intent.model.IntentModel``."""

    def predict(
        self,
        texts: Sequence[str],
        *,
        langs: Sequence[str | None] | None = None,
        situations: Sequence[object | None] | None = None,
    ) -> Sequence[Any]: ...


class TextEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class ProfileSource(Protocol):
    """The profile a decision may use: ``None`` when unknown or without personalisation consent."""

    async def profile_for_decision(self, profile_id: str) -> DecisionProfile | None: ...


class NextActionAdvisor(Protocol):
    """Decides the immediate next action of this interaction
    (:class:`~personalization.decisions.adapters.PlannerAdvisor`)."""

    async def advise(
        self, profile_id: str | None, situation: Any, prediction: Any, now: datetime
    ) -> dict[str, Any] | None: ...


class SlotTests(Protocol):
    """``personalization.experiments.abtests.ABTests``: A/B tests that own a slot while they run."""

    async def variant_for(self, slot: str, person_id: str) -> tuple[Any, int] | None: ...

    async def expose(self, test: Any, index: int, person_id: str) -> bool: ...

    async def record_goal(
        self, person_id: str, event: str, now: datetime, *, item_id: str | None = None
    ) -> list[str]: ...


class AudienceSegments(Protocol):
    """``personalization.experiments.segments.Segments``: adds the matching segment names to a
    context."""

    async def annotate(self, context: Mapping[str, Any]) -> dict[str, Any]: ...


def new_id() -> str:
    """A random decision id."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class DeciderParts:
    """The collaborators of a decision. Only the first five are required.

    >>> parts = DeciderParts(pool, store, renderer=Renderer(), policy=make_policy("thompson"),
    ...                      features=FeatureIndex(encoder), situation_reader=SituationReader(),
    ...                      intent=intent_service, profiles=profile_source, holdout=Holdout(0.1))

    ``profiles`` gives the consented profile, ``next_action`` the immediate next action,
    ``abtests`` the A/B tests that own a slot, ``segments`` the segment names audiences see,
    ``sensitivity`` hides sensitive interests from templates, ``visit`` remembers the interests of
    the moment of a session's earlier requests; each is optional and the decision works without
    it. ``clock`` and ``new_id`` are injected for tests.
    """

    pool: ContentPool
    store: DecisionStore
    renderer: Renderer
    policy: Bandit
    features: FeatureIndex
    ranker: Ranker = field(default_factory=Ranker)
    situation_reader: SituationReader | None = None
    intent: IntentPredictor | None = None
    profiles: ProfileSource | None = None
    holdout: Holdout = field(default_factory=lambda: Holdout(0.0))
    next_action: NextActionAdvisor | None = None
    abtests: SlotTests | None = None
    segments: AudienceSegments | None = None
    sensitivity: SensitivityPolicy | None = None
    visit: VisitMemory | None = None
    clock: Clock = system_clock
    new_id: Callable[[], str] = new_id


@dataclass(frozen=True, slots=True)
class DeciderOptions:
    """Knobs of the decision that are not the scoring weights or the policy."""

    default_language: str = "de"
    min_intent_confidence: float = 0.35
    decision_ttl: timedelta = timedelta(hours=72)
    stats_namespace: str = "stats"
    pool_refresh: timedelta | None = None
    """Reload the pool from the content store when the snapshot is older (every worker)."""
    shortlist: int = 50
    """How many of a slot's eligible items, best fit first, the policy chooses among."""

    def __post_init__(self) -> None:
        assert 0.0 <= self.min_intent_confidence <= 1.0, "min_intent_confidence lies in [0, 1]"
        assert self.shortlist >= 1, "shortlist must be at least 1"
