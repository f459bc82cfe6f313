"""The decision: situation + intent + (consented) profile -> the best content for each slot.

:meth:`Decider.decide` reads the situation, recognises intent when there is text (an utterance
or a search term), fetches the profile only with personalisation consent, applies the hard
rules (:mod:`personalization.decisions.eligibility`), scores the fit
(:mod:`personalization.decisions.ranking`), lets the bandit policy choose
(:mod:`personalization.decisions.policies`), renders the chosen items in the sandbox, logs the
decision with its propensities and counts the showing. Visitors in the control group
(:mod:`personalization.decisions.holdout`) get the slot defaults.

A failing dependency (intent model, profile, bandit statistics, a template) never fails the
decision: it falls back to what is still known and sets ``degraded``.

:meth:`Decider.feedback` records what happened to a shown item; a click is the bandit's reward.

Cost per slot is one dict lookup in the pool index, one pass over the items competing for that
placement (vectorised), one encoding of the session text and one round trip for the bandit
statistics; it does not depend on the size of the pool.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np

from content_pool.errors import ContentRenderError
from content_pool.models import CHANNELS, HTML_CHANNELS, Channel, ContentItem
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from personalization.automation.next_action import NextActionPlanner
from personalization.clock import Clock, system_clock
from personalization.decisions.eligibility import CAPS_PART, CAPS_TTL, Eligibility, cap_fields
from personalization.decisions.holdout import Holdout
from personalization.decisions.models import (
    UNKNOWN,
    Decision,
    DecisionContext,
    DecisionProfile,
    DecisionRequest,
    FeedbackEvent,
    Named,
    ScoredItem,
    SituationSummary,
)
from personalization.decisions.policies import ArmStats, Bandit, BanditState, context_key
from personalization.decisions.ranking import FeatureIndex, ItemFeatures, Ranker
from personalization.errors import DecisionNotFound, InvalidEvent, PersonalizationError
from personalization.profiles import consent
from personalization.profiles.profile import Profile
from personalization.profiles.sensitivity import SensitivityPolicy, usable_profile_affinities
from personalization.store.protocols import Counters, DecisionLog, PersonalRecords

log = logging.getLogger("kairos.decisions")

CONTROL = "control"
TREATMENT = "treatment"
_LOGGED_CANDIDATES = 20


class DecisionStore(DecisionLog, Counters, PersonalRecords, Protocol):
    """The parts of the store a decision uses (both MemoryStore and RedisStore are one)."""


class SituationReader(Protocol):
    """``intent.situation.SituationReader``: the situation of one request."""

    def read(
        self, context: Any, *, text: str | None = None, now: datetime | None = None
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


class ProfileFinder(Protocol):
    """``personalization.profiles.service.ProfileService``."""

    async def find(self, profile_id: str) -> Profile | None: ...


class NextActionAdvisor(Protocol):
    """Decides the immediate next action of this interaction (:class:`PlannerAdvisor`)."""

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


class PlannerAdvisor:
    """The :class:`NextActionAdvisor` over the automation planner and the profile service.

    The planner sees the stored profile only with personalisation consent; without it the
    action can come only from programmes that need nothing known about the person.
    """

    def __init__(self, planner: NextActionPlanner, profiles: ProfileFinder | None) -> None:
        self.planner = planner
        self.profiles = profiles

    async def advise(
        self, profile_id: str | None, situation: Any, prediction: Any, now: datetime
    ) -> dict[str, Any] | None:
        profile = None
        if profile_id is not None and self.profiles is not None:
            profile = consent.profile_for_decision(await self.profiles.find(profile_id))
        action = self.planner.immediate(profile, situation, prediction, now)
        return action.model_dump(mode="json") if action is not None else None


class ConsentedProfiles:
    """The :class:`ProfileSource` over the profile service, gated by personalisation consent.

    Affinities are decayed to the clock's now and scaled so the strongest interest is 1. With a
    ``sensitivity`` policy, interests in sensitive categories the person did not unlock are left
    out (they never reach targeting, ranking or rendering).
    """

    def __init__(
        self,
        profiles: ProfileFinder,
        *,
        clock: Clock = system_clock,
        sensitivity: SensitivityPolicy | None = None,
    ) -> None:
        self.profiles = profiles
        self.clock = clock
        self.sensitivity = sensitivity

    async def profile_for_decision(self, profile_id: str) -> DecisionProfile | None:
        profile = consent.profile_for_decision(await self.profiles.find(profile_id))
        if profile is None:
            return None
        scores = (
            usable_profile_affinities(profile, self.clock(), self.sensitivity)
            if self.sensitivity is not None
            else profile.affinities.current(self.clock())
        )
        strongest = max(scores.values(), default=0.0)
        affinities = (
            {topic: score / strongest for topic, score in scores.items() if score > 0}
            if strongest > 0
            else {}
        )
        return DecisionProfile(
            profile_id=profile.profile_id,
            lifecycle=str(profile.stage),
            affinities=affinities,
            first_name=profile.known.first_name,
        )


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


def _new_id() -> str:
    return uuid.uuid4().hex


def stats_key(namespace: str, slot: str, item_id: str, phase: str, moment: str, group: str) -> str:
    """The report counter of one item of a slot in one phase/moment and group."""
    return f"{namespace}:{slot}:{item_id}:{phase}|{moment}:{group}"


class Decider:
    """Decides what to show. Build one per process; ``decide`` is safe to call concurrently.

    >>> decider = Decider(pool, store, renderer=Renderer(), policy=make_policy("thompson"),
    ...                   features=FeatureIndex(encoder), situation_reader=SituationReader(),
    ...                   intent=intent_service, profiles=profile_source, holdout=Holdout(0.1))
    >>> decision = await decider.decide(request, now)
    """

    def __init__(
        self,
        pool: ContentPool,
        store: DecisionStore,
        *,
        renderer: Renderer,
        policy: Bandit,
        features: FeatureIndex,
        ranker: Ranker | None = None,
        situation_reader: SituationReader | None = None,
        intent: IntentPredictor | None = None,
        profiles: ProfileSource | None = None,
        holdout: Holdout | None = None,
        options: DeciderOptions | None = None,
        new_id: Callable[[], str] = _new_id,
        next_action: NextActionAdvisor | None = None,
        abtests: SlotTests | None = None,
        segments: AudienceSegments | None = None,
        sensitivity: SensitivityPolicy | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.pool = pool
        self.store = store
        self.renderer = renderer
        self.policy = policy
        self.features = features
        self.ranker = ranker or Ranker()
        self.situation_reader = situation_reader
        self.intent = intent
        self.profiles = profiles
        self.holdout = holdout or Holdout(0.0)
        self.options = options or DeciderOptions()
        self.next_action = next_action
        self.abtests = abtests
        self.segments = segments
        self.sensitivity = sensitivity
        self.clock = clock
        self.eligibility = Eligibility(pool)
        self.bandit = BanditState(store)
        self._new_id = new_id
        self._refreshed_at: datetime | None = None
        self._next_refresh: datetime | None = None
        self._refresh_lock = asyncio.Lock()

    async def refresh_pool(self, now: datetime) -> None:
        """Reload the pool from its store and precompute the features of every live item."""
        async with self._refresh_lock:
            await self.pool.refresh()
            self.warm(now)
            self._refreshed_at = now
            if self.options.pool_refresh is not None:
                self._next_refresh = now + self.options.pool_refresh

    def pool_age(self, now: datetime) -> timedelta | None:
        """How old the pool snapshot is (``None`` before the first refresh)."""
        return None if self._refreshed_at is None else now - self._refreshed_at

    def warm(self, now: datetime) -> None:
        """Precompute item embeddings and features for every placement of the pool."""
        for slot, channel, language in self.pool.placements():
            self.features.features(self.pool.eligible(slot, channel, language, now))  # type: ignore[arg-type]

    async def _maybe_refresh(self, now: datetime) -> None:
        every = self.options.pool_refresh
        if every is None or self._refresh_lock.locked():
            return
        if self._next_refresh is None or now >= self._next_refresh:
            self._next_refresh = now + every
            try:
                await self.refresh_pool(now)
            except Exception:  # keep serving the old snapshot; try again after ``every``
                log.exception("refreshing the content pool failed")

    # -- deciding ---------------------------------------------------------------------------

    async def decide(
        self,
        request: DecisionRequest,
        now: datetime,
        *,
        pinned: Mapping[str, tuple[str, str]] | None = None,
    ) -> Decision:
        """Choose, render and log the content of every requested slot.

        ``pinned`` maps a slot to ``(item_id, reason)`` the caller already chose by an explicit
        rule (the chat's reply to a recognised intent): it is placed, logged with propensity 1
        and the reason, and, like an A/B variant, not learned from by the bandit.

        Raises :class:`~personalization.errors.StoreUnavailable` only when the decision cannot
        be logged; everything else degrades.
        """
        await self._maybe_refresh(now)
        degraded = False
        situation = None
        if self.situation_reader is not None:
            try:
                situation = self.situation_reader.read(request.context, text=request.text, now=now)
            except Exception:  # the reader promises not to raise; never fail a page for it
                log.exception("situation reader failed")
                degraded = True
        summary, view = _summarise(situation, request)
        language = request.lang or summary.language or self.options.default_language

        text = request.text or summary.search_term
        intent, phase, moment = None, None, None
        prediction: Any = None
        if text and self.intent is not None:
            try:
                predictions = self.intent.predict([text], langs=[language], situations=[situation])
                prediction = predictions[0]
                intent, phase, moment = _named(prediction, self.options.min_intent_confidence)
            except Exception:
                log.exception("intent prediction failed")
                degraded = True

        profile, caps, failed = await self._personal(request.profile_id)
        degraded = degraded or failed
        context = DecisionContext(
            language=language,
            channel=request.channel,
            situation=summary.model_copy(update={"language": language}),
            phase=phase.name if phase else UNKNOWN,
            moment=moment.name if moment else UNKNOWN,
            intent=intent.name if intent else None,
            text=text,
            device=summary.device,
            profile=profile,
            situation_view=view,
        )
        unit = request.profile_id or request.anonymous_id or request.session_id
        control = self.holdout.in_control(unit)
        group = CONTROL if control else TREATMENT
        bandit_context = context_key(
            context, self.policy.config.context_features, self.policy.config.factorised
        )
        text_vector = self._text_vector(text) if not control else None

        used: set[str] = set()
        slots: dict[str, list[ScoredItem]] = {}
        logged: dict[str, list[dict[str, Any]]] = {}
        shown: list[tuple[str, ContentItem, float]] = []
        tested: set[str] = set()  # shown by an A/B test: not the bandit's to learn from
        audience: Mapping[str, Any] = context.audience_context()
        if self.segments is not None:
            try:
                audience = await self.segments.annotate(audience)
            except (PersonalizationError, OSError):
                log.warning("segments unavailable; audiences see no segment")
                degraded = True
        for slot in request.slots:
            placed, record, ok = await self._fill_slot(
                slot, request, context, now, caps, used, audience, control=control, unit=unit,
                pinned=(pinned or {}).get(slot),
                bandit_context=bandit_context, text_vector=text_vector,
                confidences=(phase.confidence if phase else 0.0,
                             moment.confidence if moment else 0.0),
            )  # fmt: skip
            degraded = degraded or not ok
            slots[slot] = [scored for scored, _, _ in placed]
            logged[slot] = record
            tested.update(entry["item_id"] for entry in record
                          if entry.get("abtest") or entry.get("pinned"))  # fmt: skip
            for scored, item, prior in placed:
                used.add(scored.item_id)
                shown.append((slot, item, prior))

        next_action = None
        if self.next_action is not None:
            try:
                next_action = await self.next_action.advise(
                    request.profile_id, situation, prediction, now)
            except (PersonalizationError, OSError):
                log.warning("next action unavailable for a decision")
                degraded = True
        decision = Decision(
            decision_id=self._new_id(),
            next_action=next_action,
            situation=context.situation,
            intent=intent,
            phase=phase,
            moment=moment,
            lifecycle=context.lifecycle,
            personalised=profile is not None,
            in_control_group=control,
            slots=slots,
            degraded=degraded,
        )
        log_record: dict[str, Any] = {
            "decision_id": decision.decision_id,
            "at": now.isoformat(),
            "session_id": request.session_id,
            "profile_id": request.profile_id,
            "anonymous_id": request.anonymous_id,
            "group": group,
            "policy": self.policy.config.name,
            "bandit_context": bandit_context,
            "context": {
                "phase": context.phase,
                "moment": context.moment,
                "device": context.device,
                "medium": summary.medium,
                "language": language,
                "lifecycle": context.lifecycle,
                "personalised": profile is not None,
            },
            "slots": logged,
            "feedback": {},
        }
        try:
            await self.store.put_decision(
                decision.decision_id, log_record, profile_id=request.profile_id,
                ttl=self.options.decision_ttl,
            )  # fmt: skip
        except (PersonalizationError, OSError):
            # The page still gets its content; feedback on this decision will be refused.
            log.warning("decision could not be logged; answered degraded")
            return decision.model_copy(update={"degraded": True})
        if not await self._count(
            shown, context, group, bandit_context, request.profile_id, now, tested
        ):
            decision = decision.model_copy(update={"degraded": True})
        return decision

    async def _personal(
        self, profile_id: str | None
    ) -> tuple[DecisionProfile | None, dict[str, float], bool]:
        if profile_id is None:
            return None, {}, False
        profile_task: Awaitable[DecisionProfile | None] = (
            self.profiles.profile_for_decision(profile_id) if self.profiles is not None else _none()
        )
        results = await asyncio.gather(
            profile_task,
            self.store.get_personal_counters(profile_id, CAPS_PART),
            return_exceptions=True,
        )
        failed = False
        profile = results[0]
        if isinstance(profile, BaseException):
            if not isinstance(profile, PersonalizationError | OSError):
                raise profile
            log.warning("profile unavailable for a decision: %s", profile)
            profile, failed = None, True
        caps = results[1]
        if isinstance(caps, BaseException):
            if not isinstance(caps, PersonalizationError | OSError):
                raise caps
            caps, failed = {}, True
        return profile, caps, failed

    def _text_vector(self, text: str | None) -> np.ndarray | None:
        encoder = self.features.encoder
        if not text or encoder is None:
            return None
        try:
            vector: np.ndarray = np.asarray(encoder.encode([text])[0], dtype=np.float64)
        except Exception:
            log.exception("encoding the session text failed")
            return None
        return vector

    def _candidates(self, slot: str, channel: Channel | None, language: str, now: datetime
                    ) -> tuple[Sequence[ContentItem], ItemFeatures]:  # fmt: skip
        # One dict lookup per channel, whatever the size of the pool.
        channels: Sequence[Channel] = (channel,) if channel else CHANNELS
        buckets = [self.pool.eligible(slot, c, language, now) for c in channels]
        buckets = [b for b in buckets if b]
        if len(buckets) == 1:
            return buckets[0], self.features.features(buckets[0])
        merged = tuple(item for bucket in buckets for item in bucket)
        return merged, self.features.features(merged)

    async def _fill_slot(
        self,
        slot: str,
        request: DecisionRequest,
        context: DecisionContext,
        now: datetime,
        caps: Mapping[str, float],
        used: set[str],
        audience: Mapping[str, Any],
        *,
        control: bool,
        unit: str,
        pinned: tuple[str, str] | None = None,
        bandit_context: str,
        text_vector: np.ndarray | None,
        confidences: tuple[float, float],
    ) -> tuple[list[tuple[ScoredItem, ContentItem, float]], list[dict[str, Any]], bool]:
        count = request.items_per_slot
        _, features = self._candidates(slot, request.channel, context.language, now)
        eligible = self.eligibility.mask(
            features, context, now=now, caps=caps, used=used, audience=audience
        )
        if pinned is not None:
            item = self.pool.get(pinned[0])
            rendered = self._render(item, context) if item is not None else None
            if item is not None and rendered is not None:
                scored = _scored(item, rendered, 0.0, 1.0, [pinned[1]])
                return [(scored, item, 0.0)], [
                    {"item_id": item.id, "propensity": 1.0, "pinned": True}], True
        if not control and self.abtests is not None:
            tested = await self._tested(slot, unit, features, eligible, context)
            if tested is not None:
                return tested
        if control or not eligible.any():
            reason = (
                "control group: the slot's default"
                if control
                else ("no eligible item: the slot's default")
            )
            defaults = self.pool.defaults(slot, context.language, request.channel, now)
            kept, _ = self.eligibility.filter(
                defaults, context, now=now, caps=caps, used=used, audience=audience
            )
            defaults_placed: list[tuple[ScoredItem, ContentItem, float]] = []
            for item in kept[:count]:
                rendered = self._render(item, context)
                if rendered is not None:
                    scored = _scored(item, rendered, 0.0, 1.0, [reason])
                    defaults_placed.append((scored, item, 0.0))
            record = [
                {"item_id": s.item_id, "propensity": 1.0, "default": True}
                for s, _, _ in defaults_placed
            ]
            return defaults_placed, record, True

        ok = True
        all_terms = self.ranker.terms(
            features, context, text_vector=text_vector,
            phase_confidence=confidences[0], moment_confidence=confidences[1],
        )  # fmt: skip
        all_fit = self.ranker.fit(all_terms)
        rows = np.flatnonzero(eligible)
        shortlist = self.options.shortlist
        if len(rows) > shortlist:
            # Only the best-fitting items compete for the policy: their statistics are one
            # bounded read, whatever the size of the placement.
            rows = rows[np.argpartition(-all_fit[rows], shortlist - 1)[:shortlist]]
        terms, fit = all_terms[rows], all_fit[rows]
        prior = self.ranker.weights.prior_ctr(fit)
        items = [features.items[int(r)] for r in rows]
        ids = [item.id for item in items]
        try:
            stats = await self.bandit.load(ids, bandit_context)
        except (PersonalizationError, OSError):
            log.warning("bandit statistics unavailable; deciding on fit alone")
            stats, ok = ArmStats.empty(len(ids)), False
        choice = self.policy.predict(prior, stats)
        placed: list[tuple[ScoredItem, ContentItem, float]] = []
        for j in choice.order:
            if len(placed) == count:
                break
            item = items[j]
            rendered = self._render(item, context)
            if rendered is None:
                ok = False
                continue
            reasons = self.ranker.explain(item, terms[j], context)
            reasons.append(f"fit {fit[j]:.2f} -> prior CTR {prior[j]:.3f}")
            reasons.append(
                f"learned: x{choice.learned[j]:.2f} from {stats.item_clicks[j]:.0f} clicks in "
                f"{stats.served[j]:.0f} showings, context {bandit_context}; "
                f"{self.policy.config.name} score {choice.scores[j]:.3f}"
            )
            placed.append((
                _scored(item, rendered, float(choice.scores[j]), float(choice.propensity[j]),
                        reasons),
                item,
                float(prior[j]),
            ))  # fmt: skip
        top = np.argsort(-choice.propensity, kind="stable")[:_LOGGED_CANDIDATES]
        record = [
            {
                "item_id": scored.item_id,
                "propensity": scored.propensity,
                "prior": prior_ctr,
                "position": position,
            }
            for position, (scored, _, prior_ctr) in enumerate(placed)
        ]
        if record:
            record[0]["candidates"] = [
                [ids[j], round(float(prior[j]), 6), round(float(choice.propensity[j]), 6)]
                for j in top
                if choice.propensity[j] > 0
            ]
        return placed, record, ok

    async def _tested(
        self,
        slot: str,
        unit: str,
        features: ItemFeatures,
        eligible: np.ndarray,
        context: DecisionContext,
    ) -> tuple[list[tuple[ScoredItem, ContentItem, float]], list[dict[str, Any]], bool] | None:
        """The variant of the A/B test running on ``slot``, instead of the bandit's choice.

        A test and the bandit never share a slot unnoticed: while a test runs, the person's
        sticky variant is shown (when eligible), the reason says so, the showing is logged with
        the test and not fed to the bandit. An ineligible variant falls back to the bandit.
        """
        assert self.abtests is not None
        try:
            found = await self.abtests.variant_for(slot, unit)
        except (PersonalizationError, OSError):
            log.warning("A/B tests unavailable; the bandit decides")
            return None
        if found is None:
            return None
        test, index = found
        variant = test.variants[index]
        rows = {item.id: row for row, item in enumerate(features.items)}
        row = rows.get(variant.item_id)
        if row is None or not eligible[row]:
            return None
        item = features.items[row]
        rendered = self._render(item, context)
        if rendered is None:
            return None
        await self.abtests.expose(test, index, unit)
        reason = f"A/B test {test.id}: variant {variant.name} (sticky for this visitor)"
        scored = _scored(item, rendered, 0.0, float(variant.share), [reason])
        record = [{"item_id": item.id, "propensity": float(variant.share),
                   "abtest": test.id, "variant": variant.name}]  # fmt: skip
        return [(scored, item, 0.0)], record, True

    def _render(self, item: ContentItem, context: DecisionContext) -> str | None:
        profile = context.profile
        visible: dict[str, Any] | None = None
        if profile is not None:
            visible = (
                self.sensitivity.visible_profile(
                    lifecycle=profile.lifecycle, affinities=profile.affinities,
                    first_name=profile.first_name)
                if self.sensitivity is not None
                else {"lifecycle": profile.lifecycle, "affinities": dict(profile.affinities)}
            )  # fmt: skip
        try:
            return self.renderer.render(
                item,
                situation=context.situation_view,
                profile=visible,
                first_name=profile.first_name if profile else None,
                consent=profile is not None,
            )
        except ContentRenderError:
            log.exception("content item failed to render; skipped", extra={"item": item.id})
            return None

    async def _count(
        self,
        shown: Sequence[tuple[str, ContentItem, float]],
        context: DecisionContext,
        group: str,
        bandit_context: str,
        profile_id: str | None,
        now: datetime,
        tested: AbstractSet[str] = frozenset(),
    ) -> bool:
        """Count the showings (bandit, reports, frequency caps); ``False`` if that failed."""
        counted: list[tuple[str, Mapping[str, float]]] = []
        capped: dict[str, float] = {}
        for slot, item, prior in shown:
            key = stats_key(
                self.options.stats_namespace, slot, item.id, context.phase, context.moment, group
            )
            counted.append((key, {"served": 1.0}))
            if group == TREATMENT and item.id not in tested:
                counted += self.bandit.updates(item.id, bandit_context, served=1.0,
                                               expected=prior)  # fmt: skip
            cap = item.frequency_cap
            if profile_id is not None and (cap.per_day or cap.per_week):
                for name in cap_fields(item.id, now):
                    capped[name] = 1.0
        # Reports and bandit in one round trip, frequency caps (the person's slot) in another.
        writes: list[Awaitable[Any]] = [self.store.incr_many(counted)]
        if capped and profile_id is not None:
            writes.append(self.store.incr_personal(profile_id, CAPS_PART, capped, ttl=CAPS_TTL))
        results = await asyncio.gather(*writes, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            if not isinstance(error, PersonalizationError | OSError):
                raise error
        if errors:
            log.warning("counting a decision failed: %s", errors[0])
        return not errors

    # -- feedback ---------------------------------------------------------------------------

    async def feedback(
        self, decision_id: str, item_id: str, event: FeedbackEvent, value: float | None = None
    ) -> bool:
        """Record what happened to an item of a decision; ``False`` if it was already recorded.

        A click rewards the bandit (treatment group only); every event is counted for the
        reports. Raises :class:`DecisionNotFound` for an unknown or expired decision and
        :class:`InvalidEvent` when the item was not part of it.
        """
        record = await self.store.get_decision(decision_id)
        if record is None:
            raise DecisionNotFound(f"decision {decision_id!r} is unknown or expired")
        shown = {
            entry["item_id"]: slot
            for slot, entries in record.get("slots", {}).items()
            for entry in entries
        }
        if item_id not in shown:
            raise InvalidEvent(f"item {item_id!r} was not shown in decision {decision_id!r}")
        feedback: dict[str, list[str]] = record.setdefault("feedback", {})
        seen = feedback.setdefault(item_id, [])
        if event in seen:
            return False
        seen.append(event)
        if value is not None:
            record.setdefault("values", {})[item_id] = value
        ctx = record.get("context", {})
        group = record.get("group", TREATMENT)
        key = stats_key(
            self.options.stats_namespace, shown[item_id], item_id, ctx.get("phase", UNKNOWN),
            ctx.get("moment", UNKNOWN), group,
        )  # fmt: skip
        field = {"impression": "impressions", "click": "clicks", "conversion": "conversions",
                 "dismiss": "dismissals"}[event]  # fmt: skip
        amounts = {field: 1.0}
        if event == "conversion" and value:
            amounts["value"] = float(value)
        writes: list[Awaitable[Any]] = [self.store.incr(key, amounts)]
        tested = any(entry.get("abtest") or entry.get("pinned")
                     for entries in record.get("slots", {}).values()
                     for entry in entries if entry.get("item_id") == item_id)  # fmt: skip
        if event == "click" and group == TREATMENT and not tested:
            writes.append(self.bandit.partial_fit(item_id, record["bandit_context"], reward=1.0))
        person = record.get("profile_id") or record.get("anonymous_id") or record.get(
            "session_id")
        if self.abtests is not None and person and event in ("click", "conversion"):
            writes.append(self.abtests.record_goal(
                person, event, self.clock(), item_id=item_id))  # fmt: skip
        await asyncio.gather(*writes)
        await self.store.put_decision(
            decision_id, record, profile_id=record.get("profile_id"),
            ttl=self.options.decision_ttl,
        )  # fmt: skip
        return True


async def _none() -> None:
    return None


def _scored(
    item: ContentItem, rendered: str, score: float, propensity: float, reasons: list[str]
) -> ScoredItem:
    html = item.channel in HTML_CHANNELS
    return ScoredItem(
        item_id=item.id,
        version=item.version,
        channel=item.channel,
        html=rendered if html else None,
        text=None if html else rendered,
        score=round(score, 6),
        propensity=round(propensity, 6),
        reasons=reasons,
    )


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


def _summarise(situation: Any, request: DecisionRequest) -> tuple[SituationSummary, dict[str, Any]]:
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
    }  # fmt: skip
    return summary, view
