"""The one save path and the one list filter shared by the content API and the console."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from content_pool.catalog import ContentCatalog, ContentQuery
from content_pool.errors import ContentNotFound, TemplateRejected, VersionConflict
from content_pool.models import ContentItem, ContentPatch
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from content_pool.storage import MemoryContentStore
from tests.content_pool.factories import make_draft

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def make_item(**overrides: Any) -> ContentItem:
    draft = make_draft(**overrides)
    return ContentItem.model_validate({**draft.model_dump(), "version": 1, "updated_at": T0})


ITEMS = [
    make_item(id="hero-summer-de", title="Sommer in den Bergen", tags=["summer"],
              template="<h1>Alpensommer für {{ first_name }}</h1>",
              targeting={"phases": ["explore"], "moments": ["know"], "categories": ["Hiking"]}),
    make_item(id="sidebar-stores-en", slot="sidebar", language="en", title="Stores",
              targeting={"moments": ["go"]}, status="draft"),
    make_item(id="push-sale-de", channel="push", title="Sale", template="Sale!",
              targeting={"phases": ["purchase", "churn"]}, status="archived"),
]  # fmt: skip


def ids(query: ContentQuery) -> list[str]:
    return [item.id for item in query.select(ITEMS)]


def test_an_empty_query_matches_everything_in_order() -> None:
    assert ids(ContentQuery()) == ["hero-summer-de", "sidebar-stores-en", "push-sale-de"]
    assert ids(ContentQuery.from_params({"q": "  ", "slot": "", "phase": ""})) == ids(
        ContentQuery()
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"slot": "sidebar"}, ["sidebar-stores-en"]),
        ({"channel": "push"}, ["push-sale-de"]),
        ({"language": "de"}, ["hero-summer-de", "push-sale-de"]),
        ({"status": "draft"}, ["sidebar-stores-en"]),
        # an item that does not restrict the phase (or moment) serves every one
        ({"phase": "explore"}, ["hero-summer-de", "sidebar-stores-en"]),
        ({"phase": "churn"}, ["sidebar-stores-en", "push-sale-de"]),
        ({"moment": "go"}, ["sidebar-stores-en", "push-sale-de"]),
        # categories describe, they do not restrict: no categories, no match
        ({"category": "hiking"}, ["hero-summer-de"]),
        ({"category": "camping"}, []),
        # text: id, title, tags, categories and the template's copy, case-insensitively
        ({"q": "STORES"}, ["sidebar-stores-en"]),
        ({"q": "alpensommer"}, ["hero-summer-de"]),
        ({"q": "hiking"}, ["hero-summer-de"]),
        ({"q": "summer"}, ["hero-summer-de"]),
        ({"q": "sale", "language": "de", "status": "archived"}, ["push-sale-de"]),
        ({"q": "sale", "status": "live"}, []),
    ],
)
def test_each_criterion(params: dict[str, str], expected: list[str]) -> None:
    assert ids(ContentQuery.from_params(params)) == expected


async def catalog_with_pool() -> tuple[ContentCatalog, MemoryContentStore, ContentPool]:
    store = MemoryContentStore(clock=lambda: T0)
    pool = ContentPool(store)
    return ContentCatalog(store, Renderer(), pool), store, pool


async def test_save_versions_and_updates_the_pool_at_once() -> None:
    catalog, store, pool = await catalog_with_pool()
    first = await catalog.save(make_draft(id="hero-a"), expected_version=0)
    assert first.version == 1 and pool.get("hero-a") == first
    second = await catalog.save(make_draft(id="hero-a", title="Neu"))
    assert second.version == 2 and pool.get("hero-a") == second
    with pytest.raises(VersionConflict, match="already exists"):
        await catalog.save(make_draft(id="hero-a"), expected_version=0)
    assert [i.version for i in await store.history("hero-a")] == [1, 2]


async def test_save_refuses_a_template_that_fails_the_sandbox_and_writes_nothing() -> None:
    catalog, store, pool = await catalog_with_pool()
    with pytest.raises(TemplateRejected, match="line 1"):
        await catalog.save(make_draft(id="hero-a", template="{{ nobody.knows }}"))
    assert await store.all() == [] and len(pool) == 0


async def test_patch_and_archive_apply_to_the_version_read() -> None:
    catalog, store, pool = await catalog_with_pool()
    await catalog.save(make_draft(id="hero-a"))
    patched = await catalog.patch("hero-a", ContentPatch(title="Anders"))
    assert (patched.version, patched.title) == (2, "Anders")
    with pytest.raises(VersionConflict, match="version 2, not 1"):
        await catalog.patch("hero-a", ContentPatch(title="Alt"), expected_version=1)
    archived = await catalog.archive("hero-a")
    assert archived.status == "archived" and pool.get("hero-a") is None
    await catalog.purge("hero-a")
    with pytest.raises(ContentNotFound):
        await store.get("hero-a")


async def test_check_reports_fields_condition_and_template_without_saving() -> None:
    catalog, store, _ = await catalog_with_pool()
    good = make_draft(id="hero-a").model_dump(mode="json")
    draft, errors = catalog.check(good)
    assert draft is not None and errors == []
    _, errors = catalog.check({**good, "targeting": {"audience": "device.type =="}, "slot": "X"})
    assert {e.loc for e in errors} == {"slot", "targeting.audience"}
    _, errors = catalog.check({**good, "template": "{% include 'x' %}"})
    assert [e.loc for e in errors] == ["template"]
    assert await store.all() == []


async def test_find_reads_the_store() -> None:
    catalog, _, _ = await catalog_with_pool()
    await catalog.save(make_draft(id="hero-a", status="draft"))
    await catalog.save(make_draft(id="hero-b"))
    assert [i.id for i in await catalog.find(ContentQuery(status="live"))] == ["hero-b"]
