"""SharedTaxonomy: seeded once, loaded from the store, replaced for every reader, guarded."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import yaml

from intent.errors import TaxonomyError, TaxonomyInUse
from intent.interest import InterestReader, InterestSignals, Taxonomy, load_taxonomy
from intent.interest.shared_taxonomy import KIND, NAME, SharedTaxonomy
from intent.interest.taxonomy import dumps_taxonomy, loads_taxonomy

PADDLING: dict[str, Any] = {
    "id": "paddling",
    "labels": {"de": "Paddeln", "en": "Paddling"},
    "descriptions": {"de": "Kajak und Kanu.", "en": "Kayak and canoe."},
    "synonyms": {"de": ["kajak"], "en": ["kayak"]},
}


class Documents:
    """A dict standing in for the definitions store."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], dict[str, Any]] = {}
        self.puts = 0

    async def get_definition(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.kept.get((kind, name))

    async def put_definition(self, kind: str, name: str, document: dict[str, Any]) -> None:
        self.puts += 1
        self.kept[(kind, name)] = document


def with_paddling(taxonomy: Taxonomy) -> Taxonomy:
    data = taxonomy.model_dump(mode="json")
    data["categories"].append(PADDLING)
    return Taxonomy.model_validate(data)


def kayak(reader: InterestReader) -> list[str]:
    return [i.category for i in reader.read(InterestSignals(site_search="kajak"))]


async def test_seeds_an_empty_store_once_and_then_reads_what_is_stored() -> None:
    documents, seed = Documents(), load_taxonomy()
    shared = SharedTaxonomy(documents, seed)
    assert await shared.load() == seed
    assert documents.kept[(KIND, NAME)] == seed.model_dump(mode="json")
    stored = with_paddling(seed)
    documents.kept[(KIND, NAME)] = stored.model_dump(mode="json")  # another worker replaced it
    assert await shared.load() == stored and shared.current == stored
    assert documents.puts == 1 and "paddling" in shared.known()


async def test_replace_reaches_the_readers_at_once() -> None:
    seed = load_taxonomy()
    reader = InterestReader(seed)
    shared = SharedTaxonomy(Documents(), seed, readers=[reader])
    await shared.load()
    assert "paddling" not in kayak(reader)
    await shared.replace(with_paddling(seed))
    assert kayak(reader) == ["paddling"] and reader.taxonomy == shared.current


async def test_dropping_a_category_in_use_is_refused_and_nothing_stored() -> None:
    seed, documents = load_taxonomy(), Documents()

    async def usage() -> Mapping[str, Sequence[str]]:
        return {"climbing": ["hero-b", "hero-a"], "hiking": ["x"]}

    shared = SharedTaxonomy(documents, seed, usage=usage)
    await shared.load()
    data = seed.model_dump(mode="json")
    data["categories"] = [c for c in data["categories"] if c["id"] not in {"climbing", "running"}]
    with pytest.raises(TaxonomyInUse) as refused:
        await shared.replace(Taxonomy.model_validate(data))
    assert refused.value.in_use == {"climbing": ["hero-a", "hero-b"]}
    assert "'climbing' by hero-a, hero-b" in str(refused.value)
    assert documents.puts == 1 and shared.current == seed
    data["categories"].append(seed["climbing"].model_dump(mode="json"))
    await shared.replace(Taxonomy.model_validate(data))  # running is named by no live item
    assert "running" not in shared.known()


async def test_a_bad_stored_document_is_a_taxonomy_error() -> None:
    documents = Documents()
    documents.kept[(KIND, NAME)] = {"categories": []}
    with pytest.raises(TaxonomyError, match="stored taxonomy: categories"):
        await SharedTaxonomy(documents, load_taxonomy()).load()


async def test_run_reloads_until_stopped() -> None:
    seed, documents = load_taxonomy(), Documents()
    shared = SharedTaxonomy(documents, seed)
    await shared.load()
    documents.kept[(KIND, NAME)] = with_paddling(seed).model_dump(mode="json")
    stop = asyncio.Event()
    task = asyncio.create_task(shared.run(stop, every=0.01))
    for _ in range(100):
        if "paddling" in shared.known():
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=1)
    assert "paddling" in shared.known()


def test_yaml_text_round_trips_and_errors_name_the_field() -> None:
    seed = load_taxonomy()
    assert loads_taxonomy(dumps_taxonomy(seed)) == seed
    data = seed.model_dump(mode="json")
    data["categories"][0]["labels"]["en"] = ""
    with pytest.raises(TaxonomyError) as bad:
        loads_taxonomy(yaml.safe_dump(data), source="body")
    assert bad.value.errors[0]["field"] == "categories.0.labels.en"
    with pytest.raises(TaxonomyError) as not_yaml:
        loads_taxonomy("categories: [", source="body")
    assert not_yaml.value.errors[0]["field"] == "body"
