"""SituationReader: one context in, one :class:`Situation` out, in microseconds once warm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from intent.interest import Interest, InterestReader, InterestSignals
from intent.situation.clock import Clock, local_time, utc_now
from intent.situation.context import ContextInput
from intent.situation.devices import DeviceDetector, resolver_name
from intent.situation.evidence import DEFAULT_RULES, EvidenceRules, Facts
from intent.situation.language import LanguageReader
from intent.situation.models import Situation, Source
from intent.situation.referrers import MATOMO_DIR, ReferrerIndex
from intent.situation.sources import SourceClassifier


class SituationReader:
    """Read the situation of a request: device, source, language, country, local time, evidence.

    Pure apart from its caches: the same context, text and time give the same situation. Build
    one per process (the first reader in a process compiles Matomo's device lists, which takes a
    few seconds, later ones share them; lingua loads its models on the first text) and share
    it; ``read`` is thread-safe.

    Args:
        internal_hosts: hosts (and their subdomains) whose referrals are ``internal``, besides the
            page's own host.
        languages: ISO 639-1 codes the site serves; text detection is restricted to them.
        default_timezone: IANA name used when the context has none.
        ua_cache_size: bound of the LRU cache of parsed User-Agents.
        max_header_length: User-Agent, referrer, URL and Accept-Language are cut to this length.
        unknown_agents_are_bots: count agents in which nothing is recognisable as bots.
        referrer_dir, evidence_rules: alternative data files (tests, updates).
        clock: the time when neither the context nor ``read(now=...)`` gives one.
        interests: reads what the visitor is after (``Situation.interests``); without one the
            list stays empty.

    Example::

        reader = SituationReader(internal_hosts=["shop.example"], languages=["de", "en"])
        situation = reader.read(ContextInput(referrer="https://www.google.de/search?q=filiale"))
        situation.source.medium, situation.evidence[0].name   # ("search", "search_place")
    """

    def __init__(
        self,
        *,
        internal_hosts: Sequence[str] = (),
        languages: Sequence[str] = ("de", "en"),
        default_timezone: str = "Europe/Berlin",
        ua_cache_size: int = 10_000,
        max_header_length: int = 1024,
        unknown_agents_are_bots: bool = True,
        referrer_dir: Path = MATOMO_DIR,
        evidence_rules: Path = DEFAULT_RULES,
        clock: Clock = utc_now,
        interests: InterestReader | None = None,
    ) -> None:
        self.default_timezone = ZoneInfo(default_timezone)
        self.max_header_length = max_header_length
        self.clock = clock
        self.devices = DeviceDetector(
            cache_size=ua_cache_size,
            max_length=max_header_length,
            unknown_agents_are_bots=unknown_agents_are_bots,
        )
        self.referrers = ReferrerIndex.load(referrer_dir)
        self.sources = SourceClassifier(self.referrers, internal_hosts=internal_hosts)
        self.languages = LanguageReader(languages)
        self.evidence_rules = EvidenceRules.load(evidence_rules)
        self.interests = interests

    @property
    def metadata(self) -> dict[str, Any]:
        """What the reader runs on, for health and debugging endpoints."""
        return {
            "referrer_list_date": self.referrers.list_date,
            "referrer_definitions": len(self.referrers),
            "evidence_rules": len(self.evidence_rules),
            "ua_resolver": resolver_name(),
            "languages": list(self.languages.languages),
            "default_timezone": self.default_timezone.key,
        }

    def warm_up(self) -> None:
        """Load lingua's models and the lazily compiled UA rules now (about 1 s) rather than on
        the first request; call it from the lifespan."""
        self.languages.detect_text("Guten Tag, ich suche eine Filiale in der Nähe.")
        self.devices.detect("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36")

    def read(
        self,
        context: ContextInput,
        *,
        text: str | None = None,
        now: datetime | None = None,
        session_interests: Sequence[Sequence[Interest]] = (),
    ) -> Situation:
        """Return the situation of ``context``; ``text`` is what the visitor wrote, if anything.

        The moment is ``context.timestamp``, else ``now``, else the reader's clock.
        ``session_interests`` are the interests of the visit's earlier requests, one list per
        request, the most recent last (the caller keeps them; they fade in the reading). Never
        raises for well-formed input: what is not recognised is ``unknown`` / ``None``.
        """
        cut = self.max_header_length
        device = self.devices.detect(
            context.user_agent,
            mobile=context.sec_ch_ua_mobile,
            platform=context.sec_ch_ua_platform,
            model=context.sec_ch_ua_model,
        )
        url = _cut(context.url, cut)
        path = _path(url)
        source = self.sources.classify(_cut(context.referrer, cut), url)
        language = self.languages.read(_cut(context.accept_language, cut), text, path)
        zone = ZoneInfo(context.timezone) if context.timezone else self.default_timezone
        when = local_time(context.timestamp or now or self.clock(), zone)
        facts = Facts(
            search_term=source.search_term,
            campaign=source.campaign,
            url_path=path,
            medium=source.medium,
            device=device.type,
            daypart=when.daypart,
            is_returning=context.is_returning,
            is_weekend=when.is_weekend,
            page_views=context.page_views_in_session,
        )
        return Situation(
            device=device,
            source=source,
            language=language,
            country=context.country,
            timezone=zone.key,
            local_time=when.local.isoformat(timespec="minutes"),
            daypart=when.daypart,
            weekday=when.weekday,
            is_weekend=when.is_weekend,
            is_returning=context.is_returning,
            page_views_in_session=context.page_views_in_session,
            evidence=self.evidence_rules.evaluate(facts),
            interests=self._interests(context, url, source, text, session_interests),
        )

    def _interests(
        self,
        context: ContextInput,
        url: str | None,
        source: Source,
        text: str | None,
        session: Sequence[Sequence[Interest]],
    ) -> list[Interest]:
        if self.interests is None:
            return []
        cut = self.max_header_length
        signals = InterestSignals.from_url(
            url,
            site_search=_cut(context.site_search, cut),
            utterance=_cut(text, cut),
            page_title=_cut(context.page_title, cut),
            product=_cut(context.product, cut),
            session=tuple(tuple(request) for request in session),
        )
        # Source.search_term falls back to utm_term, which the signals already hold as such.
        if source.search_term and source.search_term != signals.utm_term:
            signals = replace(signals, search_term=source.search_term)
        return self.interests.read(signals)


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


def _path(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).path or None
    except ValueError:
        return None
