"""Words to categories: inflection, German compounds, typos, phrases and URL paths."""

from __future__ import annotations

import pytest

from intent.interest import load_taxonomy
from intent.interest._text import edit_distance, fold, stem, tokens
from intent.interest.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary(load_taxonomy())


def named(vocabulary: Vocabulary, text: str) -> list[tuple[str, str]]:
    return [(m.category, m.method) for m in vocabulary.match_text(text)]


def test_folding_and_tokens() -> None:
    assert fold("Schlafsäcke für Größe XL") == "schlafsaecke fuer groesse xl"
    assert fold("Café") == "cafe"
    assert tokens("Trail-Running_Schuhe/Herren 2024") == [
        "trail",
        "running",
        "schuhe",
        "herren",
        "2024",
    ]


@pytest.mark.parametrize(
    ("forms", "stemmed"),
    [
        (("zelt", "zelte", "zelten", "zelts"), "zelt"),
        (("tent", "tents"), "tent"),
        (("running", "runs", "run"), "run"),
        (("hike", "hikes", "hiking"), "hik"),
        (("wandern", "wander"), "wander"),
        (("paddeln", "paddel"), "paddel"),
    ],
)
def test_stem_conflates_inflections(forms: tuple[str, ...], stemmed: str) -> None:
    assert {stem(f) for f in forms} == {stemmed}


@pytest.mark.parametrize(("word", "other"), [("skin", "ski"), ("mountain", "mountai")])
def test_a_bare_n_is_an_ending_only_after_l_or_r(word: str, other: str) -> None:
    assert stem(word) == word != other


def test_edit_distance_counts_a_swap_once() -> None:
    assert edit_distance("wanderschuhe", "wandreschuhe", 2) == 1
    assert edit_distance("zelt", "zeltlager", 2) == 3


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Zelte", "camping"),
        ("zelten am see", "camping"),
        ("tent", "camping"),
        ("tents", "camping"),
        ("Schlafsäcke", "camping"),
        ("schlafsaecke", "camping"),
        ("runs", "running"),
        ("Running", "running"),
        ("Laufen", "running"),
        ("hikes", "hiking"),
        ("Skis", "winter"),
        ("klettern", "climbing"),
        ("climbs", "climbing"),
        ("bikes", "cycling"),
        ("Kinder", "kids"),
    ],
)
def test_words_and_inflections_in_both_languages(
    vocabulary: Vocabulary, text: str, category: str
) -> None:
    assert named(vocabulary, text) == [(category, "synonym")]


@pytest.mark.parametrize(
    ("text", "shown", "category"),
    [
        ("Fahrradhelm", "fahrradhelm", "cycling"),
        ("Fahrradschlauch", "fahrrad+schlauch", "cycling"),
        ("Zeltzubehör", "zelt+zubehoer", "camping"),
        ("Kuppelzelt", "kuppelzelt", "camping"),
        ("Dreimannzelte", "dreimann+zelte", "camping"),
        ("Damenwanderschuhe", "damen+wanderschuhe", "hiking"),
        ("Kletterhose", "kletter+hose", "climbing"),
        ("Skitourenrucksack", "skitouren+rucksack", "winter"),
        ("Laufmütze", "lauf+muetze", "running"),
    ],
)
def test_german_compounds_are_split_against_the_vocabulary(
    vocabulary: Vocabulary, text: str, shown: str, category: str
) -> None:
    [match] = vocabulary.match_text(text)
    assert (match.category, match.matched, match.method) == (category, shown, "synonym")


def test_a_compound_can_name_two_topics(vocabulary: Vocabulary) -> None:
    matches = vocabulary.match_text("Kinderwanderschuhe")
    assert {m.category for m in matches} == {"kids", "hiking"}
    assert matches[0].matched == "kinder+wanderschuhe"


def test_the_last_topic_of_a_compound_is_its_head(vocabulary: Vocabulary) -> None:
    # a Daunenschlafsack is a sleeping bag made of down: camping, with winter as a modifier
    methods = {m.category: m.method for m in vocabulary.match_text("Daunenschlafsack")}
    assert methods == {"camping": "synonym", "winter": "modifier"}
    methods = {m.category: m.method for m in vocabulary.match_text("Kinderwanderschuhe")}
    assert methods == {"hiking": "synonym", "kids": "modifier"}


@pytest.mark.parametrize("text", ["Verlauf", "Skizze", "Radiergummi", "Wasserkocher", "Radio"])
def test_short_topic_words_do_not_match_inside_unrelated_words(
    vocabulary: Vocabulary, text: str
) -> None:
    assert vocabulary.match_text(text) == []


@pytest.mark.parametrize(
    ("text", "matched", "category"),
    [
        ("wanderschue", "wanderschue~wanderschuh", "hiking"),
        ("kletterschuhr", "kletterschuhr~kletterschuh", "climbing"),
        ("schlafsak", "schlafsak~schlafsack", "camping"),
        ("mountainbkie", "mountainbkie~mountainbike", "cycling"),
        ("snowbaord", "snowbaord~snowboard", "winter"),
        ("campign", "campign~camping", "camping"),
        ("wandreschuhe", "wandreschuhe~wanderschuhe", "hiking"),
        ("trekkingstoecek", "trekkingstoecek~trekkingstoecke", "hiking"),
    ],
)
def test_typos(vocabulary: Vocabulary, text: str, matched: str, category: str) -> None:
    [match] = vocabulary.match_text(text)
    assert (match.category, match.matched, match.method) == (category, matched, "fuzzy")


@pytest.mark.parametrize("text", ["zlt", "hike", "ziel", "kampf", "xamping"])
def test_short_words_and_a_wrong_first_letter_are_no_typos(
    vocabulary: Vocabulary, text: str
) -> None:
    assert [m.method for m in vocabulary.match_text(text)] in ([], ["synonym"])
    assert "fuzzy" not in [m.method for m in vocabulary.match_text(text)]


@pytest.mark.parametrize(
    ("text", "matched", "category"),
    [
        ("trail running shoes", "trail running", "running"),
        ("via ferrata set", "via ferrata", "climbing"),
        ("mountain bike helmet", "mountain bike", "cycling"),
        ("cross country skiing", "cross country skiing", "winter"),
    ],
)
def test_phrases(vocabulary: Vocabulary, text: str, matched: str, category: str) -> None:
    assert [(m.category, m.matched) for m in vocabulary.match_text(text)][0] == (category, matched)


def test_paths(vocabulary: Vocabulary) -> None:
    found = vocabulary.match_path("/de/c/wanderschuhe-damen/")
    assert [(seg, m.category, m.method) for seg, m in found] == [
        ("wanderschuhe-damen", "hiking", "synonym")
    ]
    found = vocabulary.match_path("/en/tents/backpacking-tent-2p.html")
    assert [(m.category, m.method) for _, m in found] == [
        ("camping", "path"),
        ("camping", "synonym"),
    ]
    assert vocabulary.match_path("/p/12345/checkout") == []
    assert [m.category for _, m in vocabulary.match_path("/fahrrad_zubehoer")] == ["cycling"]


def test_neutral_words_name_nothing(vocabulary: Vocabulary) -> None:
    assert vocabulary.match_text("backpack") == []  # not "backpacking"
    assert vocabulary.names_nothing("Jacke Damen 38")
    assert vocabulary.names_nothing("backpack")
    assert not vocabulary.names_nothing("Jacke für den Nachtlager")
