"""Language (Accept-Language q-values, text), local daypart and the context's validation."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from intent.situation import ContextInput
from intent.situation.clock import local_time
from intent.situation.language import LanguageReader, parse_accept_language


@pytest.fixture(scope="module")
def languages() -> LanguageReader:
    return LanguageReader(["de", "en"])


def test_accept_language_is_ordered_by_q_value() -> None:
    header = "en;q=0.5, de-DE, fr;q=0.8, de;q=0.9, it;q=0, *;q=0.1, !!bad, es;q=abc"
    assert parse_accept_language(header) == [("de", 1.0), ("fr", 0.8), ("en", 0.5)]


@pytest.mark.parametrize("header", [None, "", ";;;", "*", "de;q=0"])
def test_unusable_accept_language_gives_nothing(header: str | None) -> None:
    assert parse_accept_language(header) == []


def test_header_language_prefers_a_served_language(languages: LanguageReader) -> None:
    found = languages.read("fr-FR,fr;q=0.9,en;q=0.5,de;q=0.4")
    assert (found.code, found.source) == ("en", "accept_language")


def test_header_language_not_served_is_still_reported(languages: LanguageReader) -> None:
    assert languages.read("fr-CH, fr;q=0.9").code == "fr"


def test_no_signal_is_unknown(languages: LanguageReader) -> None:
    found = languages.read(None, None)
    assert (found.code, found.source) == (None, "none")


def test_text_wins_over_the_header(languages: LanguageReader) -> None:
    found = languages.read("en-US,en;q=0.9", "Wo finde ich die nächste Filiale mit Parkplatz?")
    assert (found.code, found.source) == ("de", "text")
    found = languages.read("de-DE", "I would like to cancel my subscription, please.")
    assert (found.code, found.source) == ("en", "text")


def test_too_little_text_falls_back_to_the_header(languages: LanguageReader) -> None:
    found = languages.read("de-DE", "ok")
    assert (found.code, found.source) == ("de", "accept_language")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/de/", "de"),
        ("/de/zelte/leichtes-zelt", "de"),
        ("/DE-de/zelte", "de"),
        ("/en-gb/tents", "en"),
        ("/en_US", "en"),
        ("/en", "en"),
        ("/fr/tentes", None),  # not a language the site serves
        ("/id/4711", None),  # an id folder, not Indonesian
        ("/produkte/de/", None),  # only the first segment counts
        ("/deutsch/", None),
        (None, None),
    ],
)
def test_landing_page_language_folder_counts_when_nothing_better_is_known(
    languages: LanguageReader, path: str | None, code: str | None
) -> None:
    found = languages.read(None, None, path)
    assert (found.code, found.source) == (code, "url_path" if code else "none")


def test_header_and_text_outrank_the_path(languages: LanguageReader) -> None:
    assert languages.read("en-US", None, "/de/zelte").source == "accept_language"
    found = languages.read(None, "Wo finde ich die nächste Filiale mit Parkplatz?", "/en/stores")
    assert (found.code, found.source) == ("de", "text")


def test_text_in_an_unserved_language_is_not_claimed() -> None:
    german_only = LanguageReader(["de"])
    found = german_only.read(None, "I would like to cancel my subscription, please.")
    assert found.source != "text"


@pytest.mark.parametrize(
    ("zone", "daypart", "weekday", "weekend"),
    [
        ("Europe/Berlin", "evening", "sunday", True),  # 21:30 CET
        ("Asia/Tokyo", "morning", "monday", False),  # 05:30 next day
        ("America/New_York", "afternoon", "sunday", True),  # 15:30
        ("Pacific/Auckland", "morning", "monday", False),  # 09:30 next day (NZDT)
        ("Asia/Kolkata", "night", "monday", False),  # 02:00 next day
    ],
)
def test_daypart_in_the_visitors_timezone(
    zone: str, daypart: str, weekday: str, weekend: bool
) -> None:
    moment = datetime(2026, 11, 22, 20, 30, tzinfo=UTC)  # a Sunday
    local = local_time(moment, ZoneInfo(zone))
    assert (local.daypart, local.weekday, local.is_weekend) == (daypart, weekday, weekend)


def test_naive_timestamps_are_utc() -> None:
    local = local_time(datetime(2026, 11, 22, 20, 30), ZoneInfo("Europe/Berlin"))
    assert local.local.hour == 21


@pytest.mark.parametrize(
    "fields",
    [
        {"timezone": "Mars/Olympus_Mons"},
        {"timezone": "../../etc/passwd"},
        {"country": "Germany"},
        {"page_views_in_session": -1},
        {"timestamp": "yesterday"},
        {"is_returning": "perhaps"},
        {"unexpected": "field"},
    ],
)
def test_malformed_context_fields_fail_validation(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ContextInput.model_validate(fields)


def test_unknown_country_placeholders_become_none() -> None:
    assert ContextInput(country="XX").country is None
    assert ContextInput(country="de").country == "DE"
