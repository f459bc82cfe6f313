"""What the interest reader reads (:class:`InterestSignals`) and returns (:class:`Interest`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field

Signal = Literal[
    "search_term",
    "site_search",
    "utterance",
    "landing_path",
    "page_title",
    "product",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "session",
]
Method = Literal["synonym", "modifier", "path", "fuzzy", "semantic", "session"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class InterestEvidence(BaseModel):
    """Why a category was read: which ``signal``, its ``text``, what ``matched`` and how.

    ``method`` is ``synonym`` (a word of the taxonomy, also inflected or as part of a German
    compound, shown as ``zelt+heringe``), ``modifier`` (a topic word in front of another topic's
    word in a German compound: ``Daunenschlafsack`` is a sleeping bag, ``daunen`` says of what),
    ``path`` (a listed path segment), ``fuzzy`` (a typo
    within edit distance 1, or 2 for long words), ``semantic`` (the encoder's similarity to the
    category's description, above the reader's threshold) or ``session`` (an earlier request of
    the visit, faded by the reader's decay). ``weight`` is what this evidence adds, in (0, 1].
    """

    model_config = _FROZEN

    signal: Signal
    text: str
    matched: str
    method: Method
    weight: float = Field(gt=0.0, le=1.0)


class Interest(BaseModel):
    """A topic of the moment: a taxonomy ``category`` with a ``confidence`` in [0, 1]."""

    model_config = _FROZEN

    category: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[InterestEvidence] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class InterestSignals:
    """The texts of one request that may say what the visitor is after; every one is optional.

    ``search_term`` is the external search engine's, ``site_search`` the shop's own search box,
    ``utterance`` what the visitor wrote to a chatbot. ``session`` holds the interests read for
    the earlier requests of the same visit, one tuple per request, the most recent last; the
    caller keeps them.

    Example::

        InterestSignals.from_url("https://shop.example/zelte/?utm_campaign=herbst-camping",
                                 search_term="leichtes zelt")
    """

    search_term: str | None = None
    site_search: str | None = None
    utterance: str | None = None
    landing_path: str | None = None
    page_title: str | None = None
    product: str | None = None
    utm_campaign: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None
    session: tuple[tuple[Interest, ...], ...] = field(default=())

    @classmethod
    def from_url(
        cls,
        url: str | None,
        *,
        search_term: str | None = None,
        site_search: str | None = None,
        utterance: str | None = None,
        page_title: str | None = None,
        product: str | None = None,
        session: tuple[tuple[Interest, ...], ...] = (),
    ) -> InterestSignals:
        """Signals with the landing path and the ``utm_campaign/content/term`` of ``url``.

        A malformed URL gives no path and no UTM values (never raises).
        """
        path = None
        query: dict[str, str] = {}
        if url:
            try:
                parts = urlsplit(url)
                path = parts.path or None
                for key, value in parse_qsl(parts.query):
                    query.setdefault(key.lower(), value)
            except ValueError:
                path = None
        return cls(
            search_term=search_term,
            site_search=site_search,
            utterance=utterance,
            landing_path=path,
            page_title=page_title,
            product=product,
            utm_campaign=query.get("utm_campaign") or None,
            utm_content=query.get("utm_content") or None,
            utm_term=query.get("utm_term") or None,
            session=session,
        )
