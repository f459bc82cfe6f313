"""Source classification: UTM and click-id precedence, internal hosts, referrer lists, bad input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from intent.errors import ReferrerDataError
from intent.situation.referrers import MATOMO_DIR, MATOMO_FILES, ReferrerIndex, update_from
from intent.situation.sources import SourceClassifier

PAGE = "https://www.shop.example/produkte/jacke"
SHARED = Path(
    os.environ.get("KAIROS_SHARED_DIR", Path(__file__).resolve().parents[3].parent / "shared")
)


@pytest.fixture(scope="module")
def index() -> ReferrerIndex:
    return ReferrerIndex.load()


@pytest.fixture(scope="module")
def sources(index: ReferrerIndex) -> SourceClassifier:
    return SourceClassifier(index, internal_hosts=["checkout.example", "blog.shop.example"])


def test_newsletter_utm_medium_wins_over_a_search_referrer(sources: SourceClassifier) -> None:
    source = sources.classify(
        "https://www.google.com/search?q=jacke",
        PAGE + "?utm_source=newsletter&utm_medium=E-Mail&utm_campaign=herbst_2026",
    )
    assert (source.medium, source.source, source.campaign) == ("email", "newsletter", "herbst_2026")


def test_click_id_means_paid_whatever_the_referrer(sources: SourceClassifier) -> None:
    source = sources.classify("https://www.google.de/", PAGE + "?gclid=Cj0KCQ&utm_term=winterjacke")
    assert source.medium == "paid"
    assert (source.source, source.click_id) == ("Google", "gclid")
    assert source.search_term == "winterjacke"
    assert sources.classify(None, PAGE + "?msclkid=abc").source == "Microsoft"


def test_explicit_utm_medium_outranks_a_click_id(sources: SourceClassifier) -> None:
    source = sources.classify(None, PAGE + "?utm_medium=email&gclid=xyz")
    assert (source.medium, source.click_id) == ("email", "gclid")


def test_utm_source_naming_an_ai_assistant_is_chatbot(sources: SourceClassifier) -> None:
    source = sources.classify(None, PAGE + "?utm_source=chatgpt.com")
    assert (source.medium, source.source) == ("chatbot", "ChatGPT")


def test_unknown_utm_medium_falls_back_to_the_referrer_but_keeps_the_campaign(
    sources: SourceClassifier,
) -> None:
    source = sources.classify(
        "https://www.facebook.com/", PAGE + "?utm_medium=zzz&utm_campaign=launch"
    )
    assert (source.medium, source.source, source.campaign) == ("social", "Facebook", "launch")


@pytest.mark.parametrize(
    "referrer",
    [
        "https://shop.example/warenkorb",  # the page's own host, without www
        "https://www.shop.example/",
        "https://checkout.example/pay",  # configured
        "https://eu.checkout.example/pay",  # a subdomain of a configured host
        "https://blog.shop.example/post",
    ],
)
def test_internal_referrers(sources: SourceClassifier, referrer: str) -> None:
    assert sources.classify(referrer, PAGE).medium == "internal"


def test_lookalike_host_is_not_internal(sources: SourceClassifier) -> None:
    source = sources.classify("https://notcheckout.example/", PAGE)
    assert (source.medium, source.source) == ("referral", "notcheckout.example")


@pytest.mark.parametrize(
    ("referrer", "medium"),
    [
        (None, "direct"),
        ("", "direct"),
        ("not a url", "unknown"),
        ("http://[::1", "unknown"),
        ("https://", "unknown"),
        ("https://exa mple.com/", "unknown"),
        ("https://example.com:99999/", "unknown"),
        ("javascript:alert(1)", "unknown"),
        ("//www.google.com/", "unknown"),  # a Referer header is absolute
        ("android-app://com.google.android.gm/", "referral"),
    ],
)
def test_malformed_referrers_are_unknown_never_errors(
    sources: SourceClassifier, referrer: str | None, medium: str
) -> None:
    assert sources.classify(referrer, PAGE).medium == medium


@pytest.mark.parametrize("url", ["::::", "http://[::1/?gclid=1", "%%%", "?utm_medium=email"])
def test_malformed_page_urls_do_not_break_the_referrer(sources: SourceClassifier, url: str) -> None:
    source = sources.classify("https://t.co/abc", url)
    assert source.medium in {"social", "email"}


@pytest.mark.parametrize(
    ("referrer", "medium", "name", "term"),
    [
        ("https://www.google.co.uk/search?q=winter+jacket", "search", "Google", "winter jacket"),
        ("https://www.google.com/", "search", "Google", None),  # origin-only, as browsers send
        ("https://yandex.ru/search/?text=%D0%BA%D1%83%D1%80%D1%82%D0%BA%D0%B0", "search",
         "Yandex", "куртка"),
        ("https://www.bing.com/search?q=filiale+berlin", "search", "Bing", "filiale berlin"),
        ("https://duckduckgo.com/", "search", "DuckDuckGo", None),
        ("https://www.facebook.com/l.php?u=https%3A%2F%2Fshop.example", "social", "Facebook", None),
        ("https://mail.google.com/mail/u/0/", "email", "Gmail", None),
        ("https://deref-gmx.net/mail/client/x/dereferrer/", "email", "GMX", None),
        ("https://webmail.example-hoster.de/", "email", "Webmail", None),
        ("https://chatgpt.com/", "chatbot", "ChatGPT", None),
        ("https://googleads.g.doubleclick.net/pagead/ads", "paid", "Google", None),
        ("https://www.some-shop.example/search?q=regenjacke", "search", "some-shop.example",
         "regenjacke"),
        ("https://news.example.org/artikel/42", "referral", "news.example.org", None),
    ],
)
def test_referrer_lists(
    sources: SourceClassifier, referrer: str, medium: str, name: str, term: str | None
) -> None:
    source = sources.classify(referrer, PAGE)
    assert (source.medium, source.source, source.search_term) == (medium, name, term)


def test_snowplow_referrers_medium_and_term_accuracy(index: ReferrerIndex) -> None:
    rows = [
        json.loads(line)
        for line in (SHARED / "eval/referrers/snowplow_referer_tests.jsonl").open(encoding="utf-8")
    ]
    medium_hits = term_hits = terms = 0
    for row in rows:
        classifier = SourceClassifier(index, internal_hosts=row["internal_domains"])
        source = classifier.classify(row["uri"], f"https://{row['page_host']}/")
        medium_hits += source.medium == row["medium"]
        if row["term"] is not None:
            terms += 1
            # snowplow keeps the term as typed; Kairos trims and lower-cases it, as Matomo does.
            term_hits += source.search_term == " ".join(row["term"].split()).lower()
    assert medium_hits / len(rows) >= 0.95
    assert terms and term_hits / terms >= 0.95


def test_update_from_a_checkout_refreshes_the_lists(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in (*MATOMO_FILES, "LICENSE"):
        shutil.copyfile(MATOMO_DIR / name, checkout / name)
    with (checkout / "AIAssistants.yml").open("a", encoding="utf-8") as fh:
        fh.write("\nBrandNewAI:\n  - brand-new-ai.example\n")
    target = tmp_path / "vendored"

    update_from(checkout, target=target, commit="abc123", date="2026-11-01")

    index = ReferrerIndex.load(target)
    entry = index.lookup("chat.brand-new-ai.example")
    assert entry is not None and (entry.medium, entry.name) == ("chatbot", "BrandNewAI")
    assert index.list_date == "2026-11-01"


def test_update_from_rejects_an_incomplete_checkout(tmp_path: Path) -> None:
    (tmp_path / "Socials.yml").write_text("Foo:\n  - foo.example\n", encoding="utf-8")
    with pytest.raises(ReferrerDataError, match="SearchEngines.yml"):
        update_from(tmp_path, target=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_update_from_rejects_a_broken_list(tmp_path: Path) -> None:
    for name in MATOMO_FILES:
        shutil.copyfile(MATOMO_DIR / name, tmp_path / name)
    (tmp_path / "Socials.yml").write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ReferrerDataError):
        update_from(tmp_path, target=tmp_path / "out")


@pytest.mark.parametrize(
    ("referrer", "name", "term"),
    [
        # Instant search puts the term in the fragment, which Matomo reads as well.
        ("https://www.google.de/#q=Leichtes+Zelt", "Google", "leichtes zelt"),
        ("https://www.google.com/webhp?hl=de#hl=de&q=wanderschuhe+damen", "Google",
         "wanderschuhe damen"),
        # Google Images: the term is inside the nested search URL of `prev`.
        (
            "https://www.google.de/imgres?imgurl=https://cdn.example/z.jpg&imgrefurl=https://shop"
            ".example/zelt&prev=/search%3Fq%3DUltraleicht%2BZelt%26hl%3Dde%26tbm%3Disch",
            "Google Images",
            "ultraleicht zelt",
        ),
        # Google's advanced search form.
        ("https://www.google.com/search?as_q=zelt+2+personen&as_epq=&hl=de", "Google",
         "zelt 2 personen"),
        ("https://www.google.com/search?as_q=zelt&as_epq=sehr+leicht", "Google",
         'zelt "sehr leicht"'),
        # Trimmed, inner whitespace collapsed and lower-cased, as Matomo stores keywords.
        ("https://www.bing.com/search?q=%20%20Winter%20JACKE%20", "Bing", "winter jacke"),
    ],
)
def test_search_terms_hidden_in_fragments_nested_urls_and_forms(
    sources: SourceClassifier, referrer: str, name: str, term: str
) -> None:
    source = sources.classify(referrer, PAGE)
    assert (source.medium, source.source, source.search_term) == ("search", name, term)


@pytest.mark.parametrize(
    "token",
    [
        "a3f9c2d1e4b5a6978812ab34cd56ef78",  # hex digest
        "123e4567-e89b-12d3-a456-426614174000",  # UUID
        "EAIaIQobChMI8cT2kY2X_wIVDZBoCR0",  # url-safe base64 click token
        "dGhpcyBpcyBhIHNlY3JldCB0b2tlbg2",  # base64
    ],
)
def test_an_opaque_id_is_not_a_search_term(sources: SourceClassifier, token: str) -> None:
    source = sources.classify(f"https://www.google.com/search?q={token}", PAGE)
    assert (source.medium, source.source, source.search_term) == ("search", "Google", None)


@pytest.mark.parametrize(
    "term", ["mp3-player2024xl", "sm-g960f-galaxy-s9-black-64gb", "ultralighttentfortwopersons2024"]
)
def test_product_codes_and_run_together_words_stay_terms(
    sources: SourceClassifier, term: str
) -> None:
    assert sources.classify(f"https://www.google.com/search?q={term}", PAGE).search_term == term
