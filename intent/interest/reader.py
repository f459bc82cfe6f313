"""InterestReader: what the visitor is after right now, read from the texts of a request.

Each signal names categories through the taxonomy's vocabulary (:class:`Vocabulary`) or, for
free text that names none, through the encoder's similarity to the categories' descriptions
(:class:`SemanticMatcher`). A signal's strength depends on how deliberate it is (a search term
says more than a path segment, a path segment more than a campaign name) and on the method (a
typo or a similarity counts less than a word). Agreeing signals add up like independent
evidence: ``confidence = 1 - prod(1 - weight)`` over the signals naming a category. The
interests of the visit's earlier requests count too: they carry almost whole through a page that
says nothing of its own, and yield to what the visitor does now when it names a topic.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Hashable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from intent.interest.models import Interest, InterestEvidence, InterestSignals, Method, Signal
from intent.interest.semantic import SemanticMatcher
from intent.interest.taxonomy import Taxonomy
from intent.interest.vocabulary import Match, Vocabulary

if TYPE_CHECKING:  # the encoder module imports scikit-learn; a reader without one need not
    from intent.encoder import Encoder

SIGNAL_WEIGHTS: Final[Mapping[Signal, float]] = MappingProxyType(
    {
        "search_term": 0.85,
        "site_search": 0.85,
        "utterance": 0.8,
        "product": 0.75,
        "utm_term": 0.7,
        "page_title": 0.6,
        "landing_path": 0.55,
        "utm_campaign": 0.5,
        "utm_content": 0.4,
    }
)
"""How strongly a match in each signal speaks for its category (before the method's factor)."""

METHOD_FACTORS: Final[Mapping[Method, float]] = MappingProxyType(
    {"synonym": 1.0, "modifier": 0.8, "path": 1.0, "fuzzy": 0.8, "semantic": 0.6}
)
PATH_DEPTH_FADE: Final = 0.85
"""What a topic named by the next segment of the landing path counts, relative to the one before."""
_TEXT_SIGNALS: Final[tuple[Signal, ...]] = (
    "search_term",
    "site_search",
    "utterance",
    "product",
    "utm_term",
    "page_title",
    "utm_campaign",
    "utm_content",
)
SEMANTIC_SIGNALS: Final[frozenset[Signal]] = frozenset({"utterance", "site_search"})
"""The signals the semantic fallback reads by default: what visitors write in their own words.

External search terms, titles and product names are keyword lists whose nearest prototypes are
mostly look-alike words (``parken`` -> ``parkrun``): on search terms that name no topic the
fallback gave 2.2 % of them a wrong topic, for one more right case in the tuning set.
"""
_MAX_TEXT: Final = 300

_Found = list[tuple[str, InterestEvidence]]
"""Evidence with the category it speaks for (the public evidence does not repeat it)."""


class InterestReader:
    """Read the topics of the moment of a request as a ranked list of :class:`Interest`.

    Args:
        taxonomy: the categories and their vocabulary.
        encoder: for the semantic fallback; without one only the vocabulary is used.
        semantic_threshold: the cosine a text must reach to one of a category's prototypes
            (description, label, synonym). The defaults (0.5 and a margin of 0.15) are
            calibrated for the default encoder (``use``) on the tuning part of the judged
            interest set and on search terms that name no topic
            (``bench/bench_interest.py --encoder use --calibrate``). Another encoder needs its
            own.
        semantic_margin: how much the nearest category must beat the next one (short texts
            are near several topics at once; the margin keeps those unknown).
        semantic_signals: the signals the semantic fallback reads (:data:`SEMANTIC_SIGNALS`;
            ``search_term``, ``product`` and ``page_title`` may be added).
        session_decay: factor per request back applied to the session's interests (the last
            request counts ``session_weight``, the one before ``session_weight * decay``, ...).
        session_weight: what an earlier request's interest counts, times its confidence, on a
            request that names a topic of its own (what the visitor does now shifts the visit).
        session_carry: the same on a request that names none (a product page by id, the cart,
            "about us"): the visit's topic carries, fading slowly, so the fourth page of a visit
            that began with a search for "leichtes zelt" still knows it is about camping.
        min_confidence: interests below it are left out.
        cache_size: bound of the cache of readings per input (0 disables it).

    Thread-safe. Never raises for any text: what it does not recognise names no topic, and
    nothing recognised gives an empty list (an honest "unknown").

    Example::

        reader = InterestReader(load_taxonomy())
        reader.read(InterestSignals(search_term="wanderschuhe damen wasserdicht"))
        # [Interest(category='hiking', confidence=0.85, evidence=[...])]
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        encoder: Encoder | None = None,
        *,
        semantic_threshold: float = 0.5,
        semantic_margin: float = 0.15,
        session_decay: float = 0.5,
        session_weight: float = 0.6,
        session_carry: float = 0.9,
        semantic_signals: Collection[Signal] = SEMANTIC_SIGNALS,
        min_confidence: float = 0.15,
        cache_size: int = 10_000,
    ) -> None:
        assert 0.0 <= session_decay <= 1.0, "session_decay is a factor in [0, 1]"
        self.encoder = encoder
        self.semantic_threshold = semantic_threshold
        self.semantic_margin = semantic_margin
        self.taxonomy = taxonomy
        self.vocabulary = Vocabulary(taxonomy)
        self.semantic = self._semantic(taxonomy)
        self.semantic_signals = frozenset(semantic_signals)
        self.session_decay = session_decay
        self.session_weight = session_weight
        self.session_carry = session_carry
        self.min_confidence = min_confidence
        self.cache_size = cache_size
        self._order = {category_id: i for i, category_id in enumerate(taxonomy.ids)}
        self._cache: OrderedDict[Hashable, list[Interest]] = OrderedDict()
        self._lock = threading.Lock()

    def _semantic(self, taxonomy: Taxonomy) -> SemanticMatcher | None:
        if self.encoder is None:
            return None
        return SemanticMatcher(
            taxonomy, self.encoder, threshold=self.semantic_threshold, margin=self.semantic_margin
        )

    def replace_taxonomy(self, taxonomy: Taxonomy) -> None:
        """Read against ``taxonomy`` from now on (the vocabulary and the semantic matcher are
        built first, then swapped in; the cache of earlier readings is dropped)."""
        vocabulary = Vocabulary(taxonomy)
        semantic = self._semantic(taxonomy)
        order = {category_id: i for i, category_id in enumerate(taxonomy.ids)}
        with self._lock:
            self.taxonomy, self.vocabulary, self.semantic = taxonomy, vocabulary, semantic
            self._order = order
            self._cache.clear()

    def read(self, signals: InterestSignals) -> list[Interest]:
        """The interests of one request, strongest first; ``[]`` when none is known."""
        return self.read_batch([signals])[0]

    def read_batch(self, batch: Sequence[InterestSignals]) -> list[list[Interest]]:
        """The interests of each request of ``batch`` (one encoder call for all of them)."""
        results: list[list[Interest] | None] = [None] * len(batch)
        keys = [_key(signals) for signals in batch]
        pending: list[int] = []
        with self._lock:
            for i, key in enumerate(keys):
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
                    results[i] = list(cached)
                else:
                    pending.append(i)
        if pending:
            evidence = [self._lexical(batch[i]) for i in pending]
            self._add_semantic([batch[i] for i in pending], evidence)
            for i, found in zip(pending, evidence, strict=True):
                self._add_session(batch[i], found)
                interests = self._combine(found)
                results[i] = interests
                if self.cache_size > 0:
                    with self._lock:
                        self._cache[keys[i]] = interests
                        while len(self._cache) > self.cache_size:
                            self._cache.popitem(last=False)
        return [list(r) if r is not None else [] for r in results]

    def _lexical(self, signals: InterestSignals) -> _Found:
        found: _Found = []
        for signal in _TEXT_SIGNALS:
            text = getattr(signals, signal)
            if text:
                text = text[:_MAX_TEXT]
                found.extend(
                    _evidence(signal, text, match) for match in self.vocabulary.match_text(text)
                )
        if signals.landing_path:
            path = signals.landing_path[:_MAX_TEXT]
            # A shop's paths go from department to subcategory (/en/tents/backpacking): the
            # first segment that names a topic says the most, each deeper one a little less.
            depth: dict[str, int] = {}
            for segment, match in self.vocabulary.match_path(path):
                fade = PATH_DEPTH_FADE ** depth.setdefault(segment, len(depth))
                found.append(_evidence("landing_path", segment, match, factor=fade))
        return found

    def _add_semantic(self, batch: Sequence[InterestSignals], evidence: list[_Found]) -> None:
        if self.semantic is None:
            return
        asked: list[tuple[int, Signal, str]] = []
        for row, (signals, found) in enumerate(zip(batch, evidence, strict=True)):
            named = {e.signal for _, e in found}
            for signal in _TEXT_SIGNALS:
                text = getattr(signals, signal)
                if signal not in self.semantic_signals or signal in named or not text:
                    continue
                text = text[:_MAX_TEXT]
                if not self.vocabulary.names_nothing(text):
                    asked.append((row, signal, text))
        if not asked:
            return
        matches = self.semantic.match([text for _, _, text in asked])
        for (row, signal, text), match in zip(asked, matches, strict=True):
            if match is not None:
                weight = SIGNAL_WEIGHTS[signal] * METHOD_FACTORS["semantic"]
                evidence[row].append(
                    (
                        match.category,
                        InterestEvidence(
                            signal=signal,
                            text=text,
                            matched=f"{match.nearest!r} (cosine {match.similarity})",
                            method="semantic",
                            weight=round(weight, 4),
                        ),
                    )
                )

    def _add_session(self, signals: InterestSignals, found: _Found) -> None:
        weight_now = self.session_weight if found else self.session_carry
        for back, request in enumerate(reversed(signals.session)):
            fade = weight_now * self.session_decay**back
            for interest in request:
                weight = round(interest.confidence * fade, 4)
                if weight <= 0.0 or interest.category not in self._order:
                    continue
                found.append(
                    (
                        interest.category,
                        InterestEvidence(
                            signal="session",
                            text=f"{back + 1} request(s) ago: {interest.category} "
                            f"at {interest.confidence:.2f}",
                            matched=f"{interest.category} x {fade:.2f} "
                            f"(decay {self.session_decay} per request)",
                            method="session",
                            weight=min(weight, 1.0),
                        ),
                    )
                )

    def _combine(self, found: _Found) -> list[Interest]:
        # Per category, the strongest evidence of each signal counts once; sessions count
        # per earlier request (each its own evidence).
        by_category: dict[str, dict[Hashable, InterestEvidence]] = {}
        for category, item in found:
            slot: Hashable = (item.signal, item.text) if item.signal == "session" else item.signal
            kept = by_category.setdefault(category, {})
            if slot not in kept or item.weight > kept[slot].weight:
                kept[slot] = item
        interests = []
        for category, kept in by_category.items():
            miss = 1.0
            for item in kept.values():
                miss *= 1.0 - item.weight
            confidence = round(1.0 - miss, 4)
            if confidence < self.min_confidence:
                continue
            ranked = sorted(kept.values(), key=lambda e: -e.weight)
            interests.append(Interest(category=category, confidence=confidence, evidence=ranked))
        interests.sort(key=lambda i: (-i.confidence, self._order.get(i.category, 0)))
        return interests


def _evidence(
    signal: Signal, text: str, match: Match, *, factor: float = 1.0
) -> tuple[str, InterestEvidence]:
    weight = SIGNAL_WEIGHTS[signal] * METHOD_FACTORS[match.method] * factor
    return match.category, InterestEvidence(
        signal=signal,
        text=text,
        matched=match.matched,
        method=match.method,
        weight=round(weight, 4),
    )


def _key(signals: InterestSignals) -> Hashable:
    session = tuple(
        tuple((i.category, round(i.confidence, 3)) for i in request) for request in signals.session
    )
    return (
        signals.search_term,
        signals.site_search,
        signals.utterance,
        signals.landing_path,
        signals.page_title,
        signals.product,
        signals.utm_campaign,
        signals.utm_content,
        signals.utm_term,
        session,
    )
