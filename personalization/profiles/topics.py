"""Event topics: the categories a behavioural event is about, read from its texts.

A shop often reports what a person looked at without naming a category: a page view of
``/de/zelte/ultraleicht``, a search for "wanderschuhe", a product's name. :class:`EventTopics`
reads those texts with the :class:`~intent.interest.InterestReader` (the same taxonomy that reads
the interest of the moment in decisions) and returns the event with ``inferred`` topics
(:class:`~personalization.profiles.events.InferredTopic`), which the reducer adds to the
affinities weighted by their confidence. Only events that name no category of their own are
read: what the caller says wins. Texts that name no topic give none (no guess).

Which texts each type offers:

================  ==========================================================
page_view         ``url`` (path and UTM values), ``title``
product_view      ``name``, ``url``
search            ``query`` (read as the shop's own search box)
add_to_cart       ``name``
email_click       ``url``
sms_click         ``url``
================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence

from intent.interest import InterestReader
from intent.interest.models import InterestSignals
from personalization.profiles.events import (
    AddToCart,
    EmailClick,
    Event,
    InferredTopic,
    PageView,
    ProductView,
    Search,
    SmsClick,
)
from personalization.profiles.reducer import labels_of

MAX_TOPICS = 3
"""At most this many topics are kept per event, strongest first."""


def signals_of(event: Event) -> InterestSignals | None:
    """The texts of ``event`` that may say what it is about; ``None`` when it has none."""
    signals: InterestSignals | None = None
    if isinstance(event, PageView):
        props = event.properties
        if props.url or props.title:
            signals = InterestSignals.from_url(props.url, page_title=props.title)
    elif isinstance(event, ProductView):
        props_p = event.properties
        if props_p.url or props_p.name:
            signals = InterestSignals.from_url(props_p.url, product=props_p.name)
    elif isinstance(event, Search):
        signals = InterestSignals(site_search=event.properties.query)
    elif isinstance(event, AddToCart):
        if event.properties.name:
            signals = InterestSignals(product=event.properties.name)
    elif isinstance(event, EmailClick | SmsClick):
        if event.properties.url:
            signals = InterestSignals.from_url(event.properties.url)
    return signals


class EventTopics:
    """Adds the topics read from an event's texts to events that name no category.

    Args:
        reader: the interest reader (its taxonomy names the categories).
        min_confidence: readings below it are left out.
        max_topics: at most this many topics per event.
    """

    def __init__(
        self, reader: InterestReader, *, min_confidence: float = 0.3, max_topics: int = MAX_TOPICS
    ) -> None:
        assert 0.0 <= min_confidence <= 1.0, "min_confidence is in [0, 1]"
        assert max_topics >= 1, "max_topics must be at least 1"
        self.reader = reader
        self.min_confidence = min_confidence
        self.max_topics = max_topics

    def infer(self, events: Sequence[Event]) -> list[Event]:
        """``events`` with ``inferred`` set from their texts (``None`` where nothing is read).

        Whatever a caller put in ``inferred`` is replaced: only Kairos infers.
        """
        asked: list[tuple[int, InterestSignals]] = []
        for i, event in enumerate(events):
            signals = None if labels_of(event) else signals_of(event)
            if signals is not None:
                asked.append((i, signals))
        readings = self.reader.read_batch([s for _, s in asked]) if asked else []
        found = {
            i: [InferredTopic(category=r.category, confidence=round(r.confidence, 3))
                for r in interests if r.confidence >= self.min_confidence][: self.max_topics]
            for (i, _), interests in zip(asked, readings, strict=True)
        }
        out: list[Event] = []
        for i, event in enumerate(events):
            topics = found.get(i) or None
            if topics != event.inferred:
                event = event.model_copy(update={"inferred": topics})
            out.append(event)
        return out
