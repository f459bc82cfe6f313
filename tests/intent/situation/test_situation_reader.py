"""The whole reading: evidence names, absurd headers, time sources and the rule file's checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from intent.errors import EvidenceRuleError
from intent.situation import ContextInput, SituationReader, client_hints
from intent.situation.evidence import EvidenceRules

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
SUNDAY_EVENING = datetime(2026, 11, 22, 19, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def reader() -> SituationReader:
    return SituationReader(internal_hosts=["shop.example"], clock=lambda: SUNDAY_EVENING)


def names(reader: SituationReader, context: ContextInput) -> set[str]:
    return {e.name for e in reader.read(context).evidence}


def test_full_reading(reader: SituationReader) -> None:
    situation = reader.read(
        ContextInput(
            user_agent=IPHONE,
            referrer="https://www.google.de/search?q=filiale+in+der+n%C3%A4he",
            url="https://shop.example/filialen",
            accept_language="de-DE,de;q=0.9,en;q=0.8",
            country="de",
            timezone="Europe/Berlin",
            is_returning=True,
            page_views_in_session=2,
        )
    )
    assert situation.device.type == "mobile"
    assert (situation.source.medium, situation.source.search_term) == (
        "search", "filiale in der nähe"
    )
    assert (situation.language.code, situation.country) == ("de", "DE")
    assert (situation.daypart, situation.weekday, situation.is_weekend) == (
        "evening", "sunday", True
    )
    go = [e for e in situation.evidence if e.moment == "go"]
    assert {e.name for e in go} == {"search_place", "page_store_finder"}
    assert all("filiale" in e.detail for e in go)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (ContextInput(referrer="https://www.bing.com/search?q=vertrag+k%C3%BCndigen"),
         "search_churn"),
        (ContextInput(referrer="https://www.google.com/search?q=jacke+test+vergleich"),
         "search_research"),
        (ContextInput(referrer="https://www.google.com/search?q=jacke+kaufen+gutschein"),
         "search_buy"),
        (ContextInput(url="https://shop.example/x?utm_medium=email&utm_campaign=bestellbestaetigung"),
         "mail_transactional"),
        (ContextInput(url="https://shop.example/x?utm_medium=email&utm_campaign=Order_Shipped"),
         "mail_transactional"),
        (ContextInput(url="https://shop.example/warenkorb"), "page_checkout"),
        (ContextInput(url="https://shop.example/konto/kuendigen"), "page_cancel"),
        (ContextInput(referrer="https://chatgpt.com/"), "arrival_chatbot"),
        (ContextInput(user_agent=IPHONE, is_returning=True, timezone="Europe/Berlin"),
         "evening_mobile_returning"),
    ],
)
def test_evidence_rules_fire_by_name(
    reader: SituationReader, context: ContextInput, expected: str
) -> None:
    assert expected in names(reader, context)


def test_a_newsletter_campaign_is_not_transactional(reader: SituationReader) -> None:
    context = ContextInput(url="https://shop.example/?utm_medium=email&utm_campaign=herbst_sale")
    assert "mail_transactional" not in names(reader, context)


def test_nothing_known_means_no_evidence(reader: SituationReader) -> None:
    situation = reader.read(ContextInput())
    assert situation.evidence == []
    assert situation.source.medium == "direct"
    assert (situation.device.type, situation.language.code) == ("other", None)
    assert situation.timezone == "Europe/Berlin"


def test_absurdly_long_headers_are_read_not_rejected(reader: SituationReader) -> None:
    huge = "x" * 100_000
    situation = reader.read(
        ContextInput(
            user_agent=IPHONE + huge,
            referrer="https://www.google.com/search?q=" + huge,
            url="https://shop.example/?utm_campaign=" + huge,
            accept_language="de-DE," * 20_000,
        )
    )
    assert situation.device.type == "mobile"
    assert situation.source.medium == "search"
    assert situation.language.code == "de"
    assert len(situation.source.search_term or "") <= 1024


def test_time_comes_from_timestamp_then_now_then_clock(reader: SituationReader) -> None:
    morning = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    night = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert reader.read(ContextInput()).daypart == "evening"  # the injected clock
    assert reader.read(ContextInput(), now=morning).daypart == "morning"
    assert reader.read(ContextInput(timestamp=night), now=morning).daypart == "night"


def test_metadata_names_the_list_date_and_resolver(reader: SituationReader) -> None:
    meta = reader.metadata
    assert meta["referrer_list_date"] == "2026-07-15"
    assert meta["ua_resolver"] == "ua-parser-rs"
    assert meta["evidence_rules"] == len(EvidenceRules.load())


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("- {name: x, phase: buying, weight: 0.5, when: {medium: [email]}}", "phase"),
        ("- {name: x, moment: go, weight: 2, when: {medium: [email]}}", "weight"),
        ("- {name: x, moment: go, weight: 0.5, when: {weather: [rain]}}", "unknown condition"),
        ("- {name: x, moment: go, weight: 0.5, when: {}}", "at least one"),
        ("- {name: Bad Name, moment: go, weight: 0.5, when: {medium: [email]}}", "snake_case"),
        ("- {name: x, weight: 0.5, when: {medium: [email]}}", "phase or a moment"),
        ("- {name: x, moment: go, weight: 0.5, when: {medium: [email]}}\n"
         "- {name: x, moment: go, weight: 0.5, when: {medium: [email]}}", "twice"),
    ],
)
def test_invalid_rules_are_rejected_with_the_rule_named(
    tmp_path: Path, rule: str, message: str
) -> None:
    path = tmp_path / "rules.yml"
    path.write_text("rules:\n" + "\n".join("  " + line for line in rule.splitlines()))
    with pytest.raises(EvidenceRuleError, match=message):
        EvidenceRules.load(path)


def test_client_hints_are_read_from_forwarded_headers() -> None:
    headers = {
        "sec-ch-ua-mobile": "?1",
        "sec-ch-ua-platform": '"Android"',
        "sec-ch-ua-model": '""',  # desktop Chrome sends an empty model
        "user-agent": "ignored here",
    }
    assert client_hints(headers) == {"sec_ch_ua_mobile": True, "sec_ch_ua_platform": "Android"}
    assert client_hints({"sec-ch-ua-mobile": "yes"}) == {}
    context = ContextInput(user_agent="Mozilla/5.0", **client_hints(headers))  # type: ignore[arg-type]
    assert (context.sec_ch_ua_mobile, context.sec_ch_ua_platform) == (True, "Android")
