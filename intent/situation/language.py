"""The visitor's language: from the text when there is enough of it, else from Accept-Language,
else from the language folder of the landing page's path (``/de/``, ``/en-gb/``)."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Final

from intent.situation.models import Language

if TYPE_CHECKING:
    from lingua import Language as LinguaLanguage
    from lingua import LanguageDetector as _Lingua

_TAG: Final = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*")
_MIN_TEXT_LETTERS: Final = 8
# A language folder: the first path segment is a language, optionally with a region (de-de, en_GB).
_PATH_LANGUAGE: Final = re.compile(r"/([a-z]{2})(?:[-_][a-z]{2})?(?:/|$)", re.IGNORECASE)


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    """Primary language subtags by preference.

    ``"de-DE,en;q=0.5"`` gives ``[("de", 1.0), ("en", 0.5)]``.

    Malformed entries and ``*`` are skipped, ``q=0`` means "not acceptable"; a subtag keeps its
    first (highest) weight; ties keep header order.
    """
    if not header:
        return []
    weights: dict[str, float] = {}
    for item in header.split(",")[:32]:
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        if not _TAG.fullmatch(tag) or tag == "*":
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if not 0.0 < quality <= 1.0:
            continue
        code = tag.split("-", 1)[0].lower()
        if code not in weights:
            weights[code] = quality
    return sorted(weights.items(), key=lambda kv: -kv[1])


class LanguageReader:
    """Decide the language from text (lingua, restricted to ``languages``) and Accept-Language.

    Text wins when lingua is confident (it returns no language for short or ambiguous text);
    otherwise the visitor's most preferred configured language from the header, else their most
    preferred language at all. The lingua detector is built on first use (it loads its models
    lazily, the first detection takes about half a second).
    """

    def __init__(self, languages: Sequence[str] = ("de", "en")) -> None:
        from lingua import IsoCode639_1

        assert languages, "at least one language"
        self.languages = tuple(code.lower() for code in languages)
        unknown = [c for c in self.languages if not hasattr(IsoCode639_1, c.upper())]
        assert not unknown, f"not ISO 639-1 codes lingua knows: {unknown}"
        self._detector: _Lingua | None = None
        self._lock = threading.Lock()

    def read(
        self, accept_language: str | None, text: str | None = None, url_path: str | None = None
    ) -> Language:
        """Text when lingua is sure, else Accept-Language, else the path's language folder.

        Only a folder naming one of the site's ``languages`` counts: ``/de/``, ``/en-gb/``; not
        ``/id/42`` or ``/my/account``.
        """
        if text:
            code = self.detect_text(text)
            if code is not None:
                return Language(code=code, source="text")
        preferences = parse_accept_language(accept_language)
        for code, _ in preferences:
            if code in self.languages:
                return Language(code=code, source="accept_language")
        if preferences:
            return Language(code=preferences[0][0], source="accept_language")
        return self.path_language(url_path)

    def path_language(self, url_path: str | None) -> Language:
        """The language folder that starts ``url_path``, if it is one of the site's languages."""
        match = _PATH_LANGUAGE.match(url_path or "")
        if match is None or match.group(1).lower() not in self.languages:
            return Language()
        return Language(code=match.group(1).lower(), source="url_path")

    def detect_text(self, text: str) -> str | None:
        """ISO 639-1 code of ``text`` among the configured languages, or ``None`` if unsure."""
        sample = text[:2000]
        if sum(ch.isalpha() for ch in sample) < _MIN_TEXT_LETTERS:
            return None
        found = self._lingua().detect_language_of(sample)
        code = found.iso_code_639_1.name.lower() if found is not None else None
        return code if code in self.languages else None

    def _lingua(self) -> _Lingua:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    self._detector = _build_lingua(self.languages)
        return self._detector


@cache
def _build_lingua(languages: tuple[str, ...]) -> _Lingua:
    # Shared by every reader with the same languages: detectors are immutable and thread-safe.
    from lingua import IsoCode639_1, LanguageDetectorBuilder
    from lingua import Language as LinguaLanguage

    chosen = [
        LinguaLanguage.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in languages
    ]
    builder = (
        LanguageDetectorBuilder.from_languages(*chosen)
        if len(chosen) > 1
        else LanguageDetectorBuilder.from_languages(*chosen, *_second_language(chosen))
    )
    return builder.with_minimum_relative_distance(0.25).build()


def _second_language(chosen: Sequence[LinguaLanguage]) -> list[LinguaLanguage]:
    # lingua needs two languages to compare; with one configured, a second serves as the foil
    # (and its detections are discarded by detect_text).
    from lingua import Language as LinguaLanguage

    foil = LinguaLanguage.ENGLISH if LinguaLanguage.ENGLISH not in chosen else LinguaLanguage.GERMAN
    return [foil]
