"""InterestReader: each signal, agreement, the session blend, the semantic fallback, unknowns."""

from __future__ import annotations

import pytest

from intent.encoder import HashingEncoder
from intent.interest import Interest, InterestReader, InterestSignals, load_taxonomy
from intent.interest.reader import SIGNAL_WEIGHTS


@pytest.fixture(scope="module")
def reader() -> InterestReader:
    return InterestReader(load_taxonomy())


def top(reader: InterestReader, signals: InterestSignals) -> tuple[str, str, str] | None:
    interests = reader.read(signals)
    if not interests:
        return None
    best = interests[0].evidence[0]
    return interests[0].category, best.signal, best.method


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        (
            InterestSignals(search_term="wanderschuhe damen wasserdicht"),
            ("hiking", "search_term", "synonym"),
        ),
        (InterestSignals(site_search="zeltheringe"), ("camping", "site_search", "synonym")),
        (
            InterestSignals(utterance="Habt ihr Kletterschuhe für Anfänger?"),
            ("climbing", "utterance", "synonym"),
        ),
        (InterestSignals(landing_path="/de/fahrrad/helme/"), ("cycling", "landing_path", "path")),
        (
            InterestSignals(page_title="Skitouren-Ausrüstung | Bergfalke"),
            ("winter", "page_title", "synonym"),
        ),
        (
            InterestSignals(product="Bergfalke Trail Runner GTX Men"),
            ("running", "product", "synonym"),
        ),
        (
            InterestSignals(utm_campaign="fruehjahr_laufen_2026"),
            ("running", "utm_campaign", "synonym"),
        ),
        (InterestSignals(utm_content="hero-kids-jacken"), ("kids", "utm_content", "synonym")),
        (InterestSignals(utm_term="sleeping bag"), ("camping", "utm_term", "synonym")),
        (InterestSignals(search_term="kletterschuhr"), ("climbing", "search_term", "fuzzy")),
    ],
)
def test_each_signal(
    reader: InterestReader, signals: InterestSignals, expected: tuple[str, str, str]
) -> None:
    assert top(reader, signals) == expected


def test_evidence_says_what_matched(reader: InterestReader) -> None:
    [interest] = reader.read(InterestSignals(search_term="Fahrradschlauch 28 Zoll"))
    [evidence] = interest.evidence
    assert evidence.model_dump() == {
        "signal": "search_term",
        "text": "Fahrradschlauch 28 Zoll",
        "matched": "fahrrad+schlauch",
        "method": "synonym",
        "weight": SIGNAL_WEIGHTS["search_term"],
    }
    assert interest.confidence == SIGNAL_WEIGHTS["search_term"]


def test_explicit_search_is_stronger_than_a_path_or_a_campaign(reader: InterestReader) -> None:
    search = reader.read(InterestSignals(search_term="zelt"))[0].confidence
    path = reader.read(InterestSignals(landing_path="/zelte/"))[0].confidence
    campaign = reader.read(InterestSignals(utm_campaign="zelt-sale"))[0].confidence
    assert search > path > campaign


def test_agreeing_signals_raise_the_confidence(reader: InterestReader) -> None:
    alone = reader.read(InterestSignals(search_term="leichtes zelt"))[0]
    together = reader.read(
        InterestSignals.from_url(
            "https://shop.example/de/zelte/?utm_campaign=herbst-camping",
            search_term="leichtes zelt",
        )
    )[0]
    assert together.category == alone.category == "camping"
    assert together.confidence > alone.confidence
    assert [e.signal for e in together.evidence] == ["search_term", "landing_path", "utm_campaign"]


def test_several_topics_are_ranked_by_confidence(reader: InterestReader) -> None:
    interests = reader.read(
        InterestSignals(search_term="kinder wanderschuhe", landing_path="/kinder/")
    )
    assert [i.category for i in interests] == ["kids", "hiking"]
    assert interests[0].confidence > interests[1].confidence


@pytest.mark.parametrize(
    "signals",
    [
        InterestSignals(),
        InterestSignals(search_term="wo ist meine bestellung"),
        InterestSignals(utterance="What are your opening hours?"),
        InterestSignals(landing_path="/checkout/payment", utm_campaign="black-friday-2026"),
        InterestSignals(search_term="   "),
        InterestSignals(search_term="x" * 10_000),
    ],
)
def test_nothing_known_is_an_empty_list(reader: InterestReader, signals: InterestSignals) -> None:
    assert reader.read(signals) == []


def test_from_url_reads_path_and_utm() -> None:
    signals = InterestSignals.from_url(
        "https://shop.example/en/tents/?utm_campaign=Spring&UTM_CONTENT=hero&utm_term=tent+2p",
        page_title="Tents",
    )
    assert (signals.landing_path, signals.utm_campaign, signals.utm_content, signals.utm_term) == (
        "/en/tents/",
        "Spring",
        "hero",
        "tent 2p",
    )
    assert signals.page_title == "Tents"
    assert InterestSignals.from_url("http://[::1") == InterestSignals()
    assert InterestSignals.from_url(None) == InterestSignals()


def test_session_interests_blend_with_a_decay(reader: InterestReader) -> None:
    hiking = Interest(category="hiking", confidence=0.8)
    camping = Interest(category="camping", confidence=0.8)
    # nothing in this request: the visit's earlier topics carry, the latest strongest
    interests = reader.read(
        InterestSignals(landing_path="/checkout", session=((hiking,), (camping,)))
    )
    assert [i.category for i in interests] == ["camping", "hiking"]
    assert interests[0].confidence == pytest.approx(0.8 * reader.session_carry)
    assert interests[1].confidence == pytest.approx(
        0.8 * reader.session_carry * reader.session_decay
    )
    evidence = interests[1].evidence[0]
    assert (evidence.signal, evidence.method) == ("session", "session")
    assert "2 request(s) ago" in evidence.text and "decay 0.5" in evidence.matched
    # this request's search outweighs the session, and an agreeing session adds to it
    now = reader.read(InterestSignals(search_term="laufschuhe", session=((camping,),)))
    assert [i.category for i in now] == ["running", "camping"]
    assert now[1].confidence == pytest.approx(0.8 * reader.session_weight)
    agreeing = reader.read(InterestSignals(search_term="zelt", session=((camping,),)))[0]
    assert agreeing.confidence > reader.read(InterestSignals(search_term="zelt"))[0].confidence


def test_a_visit_keeps_its_topic_over_pages_that_say_nothing(reader: InterestReader) -> None:
    # searched for a tent, then a product page by id, the brands page, the home page: each
    # request hands what it was read with to the next one, as the visit memory does
    visit: tuple[Interest, ...] = tuple(reader.read(InterestSignals(search_term="leichtes zelt")))
    for path in ("/p/600455", "/marken", "/"):
        visit = tuple(reader.read(InterestSignals(landing_path=path, session=(visit,))))
    assert visit[0].category == "camping" and visit[0].confidence >= 0.5
    # a page about something else shifts the visit at once
    shifted = reader.read(InterestSignals(site_search="fahrradhelm", session=(visit,)))
    assert shifted[0].category == "cycling"


def test_session_categories_outside_the_taxonomy_are_ignored(reader: InterestReader) -> None:
    old = Interest(category="fishing", confidence=0.9)
    assert reader.read(InterestSignals(session=((old,),))) == []


def test_readings_are_cached_per_input(reader: InterestReader) -> None:
    signals = InterestSignals(search_term="Trekkingstöcke Carbon")
    first = reader.read(signals)
    assert reader.read(InterestSignals(search_term="Trekkingstöcke Carbon")) == first
    assert reader.read_batch([signals, InterestSignals()]) == [first, []]


class CountingEncoder(HashingEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.calls.append(list(texts))
        return super().encode(texts)


def test_semantic_fallback_only_where_the_vocabulary_is_silent() -> None:
    encoder = CountingEncoder()
    reader = InterestReader(load_taxonomy(), encoder, semantic_threshold=0.5, semantic_margin=0.05)
    assert len(encoder.calls) == 1  # the prototypes, once
    text = "in the mountains, clothing for tours"  # shares n-grams with the hiking description
    [interest] = reader.read(InterestSignals(search_term="Trekking", utterance=text))
    assert interest.category == "hiking"
    assert [e.method for e in interest.evidence] == ["synonym", "semantic"]
    assert encoder.calls[-1] == [text]  # the search term named a topic: not encoded
    semantic = interest.evidence[1]
    assert semantic.signal == "utterance" and "cosine" in semantic.matched
    assert semantic.weight < SIGNAL_WEIGHTS["utterance"]


def test_semantic_fallback_reads_only_its_signals() -> None:
    text = "in the mountains, clothing for tours"
    default = InterestReader(
        load_taxonomy(), HashingEncoder(), semantic_threshold=0.5, semantic_margin=0.05
    )
    assert default.read(InterestSignals(page_title=text, search_term=text)) == []
    wider = InterestReader(
        load_taxonomy(),
        HashingEncoder(),
        semantic_threshold=0.5,
        semantic_margin=0.05,
        semantic_signals=("page_title",),
    )
    [interest] = wider.read(InterestSignals(page_title=text))
    assert [(e.signal, e.method) for e in interest.evidence] == [("page_title", "semantic")]


def test_semantic_fallback_stays_silent_below_its_threshold() -> None:
    reader = InterestReader(
        load_taxonomy(), HashingEncoder(), semantic_threshold=0.9, semantic_margin=0.05
    )
    assert reader.read(InterestSignals(utterance="in the mountains, clothing for tours")) == []
    # and a text near no description (best cosine about 0.3 with this encoder) names nothing
    lenient = InterestReader(
        load_taxonomy(), HashingEncoder(), semantic_threshold=0.5, semantic_margin=0.05
    )
    assert lenient.read(InterestSignals(utterance="wo ist meine bestellung")) == []


def test_batch_encodes_once() -> None:
    encoder = CountingEncoder()
    reader = InterestReader(load_taxonomy(), encoder, semantic_threshold=0.3, semantic_margin=0.05)
    reader.read_batch([InterestSignals(utterance=f"text number {i}") for i in range(5)])
    assert len(encoder.calls) == 2 and len(encoder.calls[-1]) == 5


def test_the_first_topic_of_a_landing_path_says_the_most(reader: InterestReader) -> None:
    # department first, then a subcategory that may belong to another topic
    interests = reader.read(InterestSignals(landing_path="/en/tents/backpacking"))
    assert [i.category for i in interests] == ["camping", "hiking"]
    assert interests[1].confidence < interests[0].confidence
    assert [i.category for i in reader.read(InterestSignals(landing_path="/en/hiking/tents"))][
        0
    ] == "hiking"
