"""The taxonomy file: default data, lookups, round trip and validation messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from intent.errors import IntentError, TaxonomyError
from intent.interest import Taxonomy, dump_taxonomy, load_taxonomy, parse_taxonomy

POOL_CATEGORIES = ("hiking", "running", "climbing", "camping", "cycling", "winter", "kids")


def category(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "hiking",
        "labels": {"de": "Wandern", "en": "Hiking"},
        "descriptions": {"de": "Wandern in den Bergen.", "en": "Hiking in the mountains."},
        "synonyms": {"de": ["wandern"], "en": ["hiking"]},
        "path_segments": ["wandern"],
    }
    data.update(overrides)
    return data


def test_default_taxonomy_has_the_content_pools_categories() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.ids == POOL_CATEGORIES
    assert taxonomy["camping"].labels.de == "Camping"
    assert "zelte" in taxonomy["camping"].path_segments
    assert "winter" in taxonomy and "fishing" not in taxonomy
    assert len(taxonomy) == 7 and [c.id for c in taxonomy] == list(POOL_CATEGORIES)
    with pytest.raises(KeyError):
        taxonomy["fishing"]


def test_every_category_has_a_vocabulary_in_both_languages() -> None:
    for cat in load_taxonomy():
        assert len(cat.synonyms.de) >= 20 and len(cat.synonyms.en) >= 15, cat.id
        assert cat.descriptions.de and cat.descriptions.en and cat.path_segments


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    taxonomy = load_taxonomy()
    file = dump_taxonomy(taxonomy, tmp_path / "taxonomy.yml")
    assert load_taxonomy(file) == taxonomy


def test_taxonomy_is_a_frozen_value() -> None:
    taxonomy = parse_taxonomy({"categories": [category()]})
    with pytest.raises(ValueError, match="frozen"):
        taxonomy.categories = ()  # type: ignore[misc]
    assert isinstance(taxonomy, Taxonomy) and hash(taxonomy["hiking"].labels)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"categories": [category(), category()]},
            "categories.1.id: 'hiking' is already categories.0",
        ),
        ({"categories": [category(id="Hiking")]}, "categories.0.id: 'Hiking' is not a category id"),
        ({"categories": [category(id="trail-running")]}, "is not a category id"),
        ({"categories": [category(labels={"de": " ", "en": "Hiking"})]}, "categories.0.labels.de"),
        (
            {"categories": [category(labels={"de": "Wandern"})]},
            "categories.0.labels.en: Field required",
        ),
        ({"categories": [category(synonyms={"de": ["wandern", ""]})]}, "a word may not be empty"),
        (
            {
                "categories": [
                    category(),
                    category(id="walking", synonyms={"en": ["Wandern"]}, path_segments=["walking"]),
                ]
            },
            "synonym 'wandern' is in both 'hiking' and 'walking'",
        ),
        (
            {
                "categories": [
                    category(),
                    category(id="walking", synonyms={}, path_segments=["wandern"]),
                ]
            },
            "path segment 'wandern' is in both 'hiking' and 'walking'",
        ),
        ({"categories": []}, "categories: Tuple should have at least 1 item"),
        ({"categories": [category(colour="green")]}, "categories.0.colour: Extra inputs"),
        (["hiking"], "expected a mapping"),
    ],
)
def test_validation_names_the_place_and_the_problem(data: Any, message: str) -> None:
    with pytest.raises(TaxonomyError, match="^taxonomy: ") as caught:
        parse_taxonomy(data)
    assert message in str(caught.value)
    assert isinstance(caught.value, IntentError) and isinstance(caught.value, ValueError)


def test_a_broken_file_names_the_file(tmp_path: Path) -> None:
    file = tmp_path / "mine.yml"
    file.write_text("categories: [\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"mine.yml: not valid YAML line \d"):
        load_taxonomy(file)
    with pytest.raises(FileNotFoundError):
        load_taxonomy(tmp_path / "missing.yml")
