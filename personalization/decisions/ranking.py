"""How well an item fits the request: a weighted sum of stated terms, each one explained.

The terms, each in ``[0, 1]``:

``phase`` / ``moment``
    1 when the item targets the recognised phase (moment), 0 when it targets others, 0.5 when
    the item is open to every phase or the phase is unknown. Blended towards 0.5 by the
    recognition's confidence: ``0.5 + confidence * (match - 0.5)``.
``similarity``
    Cosine between the session text (utterance or search term) and the item's text (title,
    tags, categories, template text), clipped at 0; 0 without text. Item embeddings are
    computed once per item version (:class:`ItemFeatures`), so a decision costs one encoding
    of the session text and one matrix-vector product.
``topic``
    How well the item's categories meet the interest of the moment (what the visitor is after
    now: search term, landing page, campaign, text, earlier pages of the session). With the
    strongest interest's confidence ``c`` and ``match`` = the best confidence among the item's
    categories divided by the strongest one: ``0.5 + c * (match - 0.5)``; 0.5 for an item
    without categories. When no interest is known an item about a topic is a guess and gets
    :data:`TOPIC_GUESS` (a little below an item for everyone: a visitor whose topic is not known
    sees the broad message first, unless phase, affinity or what clicks taught say otherwise).
    Its default weight is the largest, so a clear interest outranks priority, phase and generic
    items.
``affinity``
    The profile's strongest long-term affinity (0-1) among the item's categories (consented
    profiles only), scaled by ``1 - c``: what the visitor is after now beats what they liked
    before when it is clear.
``lifecycle``
    1 when the item targets the visitor's lifecycle stage, 0 when it targets others, 0.5 open.
``priority``
    The marketer's business priority / 100.

``fit = sum(weight_t * term_t) / sum(weights)``; when the topic term is the same for every
candidate (no interest known, or no candidate has categories) it says nothing about this request
and is left out of the sum, so the other terms keep the share they had.

The learned value is not a term of ``fit``: the policy (:mod:`personalization.decisions.policies`)
turns ``fit`` into a prior CTR and corrects it by what clicks taught it, and its part appears in
the reasons too.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np

from content_pool.models import MOMENTS, PHASES, ContentItem, LifecycleStage
from personalization.decisions.models import UNKNOWN, DecisionContext

TERMS: tuple[str, ...] = (
    "phase", "moment", "similarity", "affinity", "lifecycle", "priority", "topic",
)  # fmt: skip
_TOPIC = TERMS.index("topic")
FOCUS_SHARE = 0.9
"""An interest at least this share of the strongest one is in focus too (see ``Ranker.focus``)."""
TOPIC_GUESS = 0.4
"""The topic term of an item about a topic when the visit's interest is not known."""
LIFECYCLE_STAGES: tuple[LifecycleStage, ...] = (
    "anonymous", "prospect", "new_customer", "active", "loyal", "at_risk", "lapsed",
)  # fmt: skip

_MARKUP = re.compile(r"<[^>]*>|\{[{%#].*?[}%#]\}", re.DOTALL)


class Encoder(Protocol):
    """Text in, L2-normalised rows out (``intent.encoder.Encoder``)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """The stated, configurable weights of the fit terms, and how fit maps to a prior CTR.

    ``prior_ctr(fit) = ctr_floor + (ctr_ceiling - ctr_floor) * fit`` is what the policy expects
    of an item before it has seen any clicks for it.

    >>> ScoringWeights(phase=0.4, priority=0.0)
    """

    phase: float = 0.30
    moment: float = 0.20
    similarity: float = 0.15
    affinity: float = 0.20
    lifecycle: float = 0.10
    priority: float = 0.05
    topic: float = 0.50
    topic_focus: float = 0.40
    """An interest of the moment at least this clear lets only the items about it compete in a
    slot that has any (the policy still explores among them); above 1 it never does."""
    ctr_floor: float = 0.01
    ctr_ceiling: float = 0.20

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the rule a weight breaks."""
        weights = self.vector()
        if (weights < 0).any() or not np.isfinite(weights).all():
            raise ValueError("scoring weights must be finite and non-negative")
        if weights.sum() <= 0:
            raise ValueError("at least one scoring weight must be positive")
        if not 0.0 < self.ctr_floor < self.ctr_ceiling < 1.0:
            raise ValueError("need 0 < ctr_floor < ctr_ceiling < 1")
        if not self.topic_focus >= 0.0:
            raise ValueError("topic_focus must be a confidence >= 0 (above 1: never focus)")

    def vector(self) -> np.ndarray:
        """The term weights in :data:`TERMS` order (``topic_focus`` is not one)."""
        return np.asarray([getattr(self, name) for name in TERMS], dtype=np.float64)

    def prior_ctr(self, fit: np.ndarray) -> np.ndarray:
        prior: np.ndarray = self.ctr_floor + (self.ctr_ceiling - self.ctr_floor) * np.clip(
            fit, 0.0, 1.0
        )
        return prior

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> ScoringWeights:
        """Build from settings; unknown names raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown scoring weights: {', '.join(sorted(unknown))}")
        return cls(**{name: float(value) for name, value in values.items()})


def item_text(item: ContentItem) -> str:
    """What an item is about, as text for the encoder."""
    body = " ".join(_MARKUP.sub(" ", item.template).split())[:600]
    return " ".join(
        [item.title, " ".join(item.targeting.categories), " ".join(item.tags), body]
    ).strip()


def _mask(values: Sequence[str], vocabulary: Sequence[str]) -> tuple[np.ndarray, bool]:
    row = np.asarray([name in values for name in vocabulary], dtype=bool)
    return row, not values


@dataclass(frozen=True, slots=True)
class ItemFeatures:
    """The precomputed features of a sequence of items (rows align with ``items``).

    ``checked`` marks items with a rule that depends on the request (an audience condition or
    a frequency cap): only those need a look each time (:meth:`Eligibility.mask`).
    """

    items: tuple[ContentItem, ...]
    embeddings: np.ndarray | None  # (k, dim), L2-normalised
    phases: np.ndarray  # (k, 5) bool
    phase_open: np.ndarray  # (k,) bool
    moments: np.ndarray  # (k, 6) bool
    moment_open: np.ndarray
    stages: np.ndarray  # (k, 7) bool
    stage_open: np.ndarray
    priority: np.ndarray  # (k,) in [0, 1]
    prefer: np.ndarray  # (k,) bool: phases, moments, stages rank rather than exclude
    categories: np.ndarray  # (k, len(category_names)) bool
    category_names: tuple[str, ...]
    checked: np.ndarray  # (k,) bool
    row_of: Mapping[str, int]

    def take(self, rows: np.ndarray) -> ItemFeatures:
        """The features of a subset of rows, in the given order."""
        items = tuple(self.items[i] for i in rows)
        return ItemFeatures(
            items=items,
            embeddings=None if self.embeddings is None else self.embeddings[rows],
            phases=self.phases[rows],
            phase_open=self.phase_open[rows],
            moments=self.moments[rows],
            moment_open=self.moment_open[rows],
            stages=self.stages[rows],
            stage_open=self.stage_open[rows],
            priority=self.priority[rows],
            prefer=self.prefer[rows],
            categories=self.categories[rows],
            category_names=self.category_names,
            checked=self.checked[rows],
            row_of={item.id: i for i, item in enumerate(items)},
        )


class FeatureIndex:
    """Item features and embeddings, computed once per item version and per pool bucket.

    :meth:`features` is called with the sequence the pool returns for a placement; the pool
    hands out the same tuple until it is rebuilt, so the stacked matrix is cached by identity,
    and item vectors are cached by ``(id, version)`` across rebuilds. :meth:`warm` encodes a
    whole pool at once (at start and after a refresh).
    """

    def __init__(self, encoder: Encoder | None, *, max_buckets: int = 4096) -> None:
        self.encoder = encoder
        self.max_buckets = max_buckets
        self._vectors: dict[tuple[str, int], np.ndarray] = {}
        self._buckets: OrderedDict[int, tuple[Sequence[ContentItem], ItemFeatures]] = OrderedDict()

    def warm(self, items: Sequence[ContentItem]) -> None:
        """Encode every item not yet encoded, in one batch."""
        self._encode_missing(items)

    def _encode_missing(self, items: Sequence[ContentItem]) -> None:
        if self.encoder is None:
            return
        missing = [item for item in items if (item.id, item.version) not in self._vectors]
        if not missing:
            return
        vectors = self.encoder.encode([item_text(item) for item in missing])
        for item, vector in zip(missing, vectors, strict=True):
            self._vectors[(item.id, item.version)] = np.asarray(vector, dtype=np.float32)

    def features(self, items: Sequence[ContentItem]) -> ItemFeatures:
        """The features of ``items`` (cached when the same sequence object comes again)."""
        cached = self._buckets.get(id(items))
        if cached is not None and cached[0] is items:
            self._buckets.move_to_end(id(items))
            return cached[1]
        built = self._build(items)
        self._buckets[id(items)] = (items, built)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        return built

    def _build(self, items: Sequence[ContentItem]) -> ItemFeatures:
        self._encode_missing(items)
        k = len(items)
        phases = np.zeros((k, len(PHASES)), dtype=bool)
        moments = np.zeros((k, len(MOMENTS)), dtype=bool)
        stages = np.zeros((k, len(LIFECYCLE_STAGES)), dtype=bool)
        phase_open = np.zeros(k, dtype=bool)
        moment_open = np.zeros(k, dtype=bool)
        stage_open = np.zeros(k, dtype=bool)
        for i, item in enumerate(items):
            target = item.targeting
            phases[i], phase_open[i] = _mask(target.phases, PHASES)
            moments[i], moment_open[i] = _mask(target.moments, MOMENTS)
            stages[i], stage_open[i] = _mask(target.lifecycle_stages, LIFECYCLE_STAGES)
        embeddings = None
        if self.encoder is not None and k:
            embeddings = np.stack([self._vectors[(item.id, item.version)] for item in items])
        names = tuple(sorted({c for item in items for c in item.targeting.categories}))
        column = {name: j for j, name in enumerate(names)}
        categories = np.zeros((k, len(names)), dtype=bool)
        for i, item in enumerate(items):
            for name in item.targeting.categories:
                categories[i, column[name]] = True
        checked = np.asarray(
            [
                bool(item.targeting.audience)
                or item.frequency_cap.per_day is not None
                or item.frequency_cap.per_week is not None
                for item in items
            ],
            dtype=bool,
        )
        return ItemFeatures(
            items=tuple(items),
            embeddings=embeddings,
            phases=phases,
            phase_open=phase_open,
            moments=moments,
            moment_open=moment_open,
            stages=stages,
            stage_open=stage_open,
            priority=np.asarray([item.priority / 100.0 for item in items], dtype=np.float64),
            prefer=np.asarray([item.targeting.prefer for item in items], dtype=bool).reshape(k),
            categories=categories,
            category_names=names,
            checked=checked.reshape(k),
            row_of={item.id: i for i, item in enumerate(items)},
        )


def _targeting_term(
    matches: np.ndarray,
    is_open: np.ndarray,
    vocabulary: Sequence[str],
    name: str,
    confidence: float,
) -> np.ndarray:
    if name == UNKNOWN or name not in vocabulary:
        return np.full(len(is_open), 0.5)
    hit = matches[:, list(vocabulary).index(name)].astype(np.float64)
    raw = np.where(is_open, 0.5, hit)
    return 0.5 + confidence * (raw - 0.5)


def _best_of(features: ItemFeatures, scores: Mapping[str, float]) -> np.ndarray:
    """Per item, the highest of ``scores`` among its categories (0 when none has a score)."""
    weights = np.asarray([scores.get(name, 0.0) for name in features.category_names])
    best: np.ndarray = np.clip((features.categories * weights).max(axis=1), 0.0, 1.0)
    return best


class Ranker:
    """Computes the fit of items to a request, and explains it."""

    def __init__(self, weights: ScoringWeights | None = None) -> None:
        self.weights = weights or ScoringWeights()
        self._vector = self.weights.vector()
        self._without_topic = self._vector.copy()
        self._without_topic[_TOPIC] = 0.0
        if self._without_topic.sum() <= 0:  # topic alone is weighted: keep it
            self._without_topic = self._vector

    def terms(
        self,
        features: ItemFeatures,
        context: DecisionContext,
        *,
        text_vector: np.ndarray | None = None,
        phase_confidence: float = 1.0,
        moment_confidence: float = 1.0,
    ) -> np.ndarray:
        """The ``(k, len(TERMS))`` matrix of term values in ``[0, 1]``."""
        k = len(features.items)
        out = np.zeros((k, len(TERMS)), dtype=np.float64)
        if k == 0:
            return out
        out[:, 0] = _targeting_term(
            features.phases, features.phase_open, PHASES, context.phase, phase_confidence
        )
        out[:, 1] = _targeting_term(
            features.moments, features.moment_open, MOMENTS, context.moment, moment_confidence
        )
        if text_vector is not None and features.embeddings is not None:
            out[:, 2] = np.clip(features.embeddings @ text_vector, 0.0, 1.0)
        clarity = max(context.interests.values(), default=0.0)
        profile = context.profile
        if profile is not None and profile.affinities and features.category_names:
            out[:, 3] = (1.0 - clarity) * _best_of(features, profile.affinities)
        out[:, 4] = _targeting_term(
            features.stages, features.stage_open, LIFECYCLE_STAGES, context.lifecycle, 1.0
        )
        out[:, 5] = features.priority
        out[:, 6] = 0.5
        if features.category_names:
            on_topic: np.ndarray | float = TOPIC_GUESS
            if clarity > 0:
                match = _best_of(features, context.interests) / clarity
                on_topic = 0.5 + clarity * (match - 0.5)
            out[:, 6] = np.where(features.categories.any(axis=1), on_topic, 0.5)
        return out

    def focus(self, terms: np.ndarray, context: DecisionContext) -> np.ndarray | None:
        """The rows about a clear interest of the moment, or ``None`` when none is clear.

        An item is about it when one of its categories is the strongest interest or another one
        nearly as strong (:data:`FOCUS_SHARE` of it: "zelte" and "trekking" in one title are
        both the visitor's topic; "daune" under "schlafsäcke" is a side note).
        """
        clarity = max(context.interests.values(), default=0.0)
        if clarity < self.weights.topic_focus or len(terms) == 0:
            return None
        about: np.ndarray = terms[:, _TOPIC] >= 0.5 + clarity * (FOCUS_SHARE - 0.5) - 1e-9
        return about

    def fit(self, terms: np.ndarray) -> np.ndarray:
        """The weighted fit in ``[0, 1]`` per row of :meth:`terms`."""
        weights = self._vector
        if len(terms) and np.ptp(terms[:, _TOPIC]) == 0:
            weights = self._without_topic
        fit: np.ndarray = terms @ weights / weights.sum()
        return fit

    def explain(self, item: ContentItem, row: np.ndarray, context: DecisionContext) -> list[str]:
        """One reason per term that counted, with its value and weight; the interest of the
        moment first, in plain words, when the item is about it."""
        reasons = _topic_reasons(item, context)
        labels = {
            "phase": f"phase {context.phase}",
            "moment": f"moment {context.moment}",
            "similarity": "similar to the session text",
            "affinity": "matches the visitor's interests",
            "lifecycle": f"lifecycle {context.lifecycle}",
            "priority": f"business priority {item.priority}",
            "topic": "topic of the moment",
        }
        for name, value, weight in zip(TERMS, row, self._vector, strict=True):
            if weight == 0:
                continue
            if name in ("similarity", "affinity") and value == 0:
                continue
            if name == "topic" and not context.interests:
                if value < 0.5:
                    reasons.append(f"topic: not known for this visit, an item about "
                                   f"{_categories(item)} is a guess = {value:.2f} x weight "
                                   f"{weight:.2f}")
                continue
            reasons.append(f"{name}: {labels[name]} = {value:.2f} x weight {weight:.2f}")
        return reasons


def _categories(item: ContentItem) -> str:
    return " / ".join(item.targeting.categories)


def _topic_reasons(item: ContentItem, context: DecisionContext) -> list[str]:
    """``matches what the visitor is after: searched for 'leichtes zelt' -> camping (0.92)``."""
    reasons = []
    for category in item.targeting.categories:
        confidence = context.interests.get(category)
        if confidence:
            evidence = context.interest_evidence.get(category)
            source = f"{evidence} -> " if evidence else ""
            reasons.append(
                f"matches what the visitor is after: {source}{category} ({confidence:.2f})"
            )
    return reasons
