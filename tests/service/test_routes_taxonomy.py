"""The taxonomy the marketer owns: read, replace (JSON or YAML), validation, categories in
use, unknown categories on content save, on the in-process store and on Redis."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from content_pool.errors import InvalidContent
from service.app import create_app
from tests.service.apps import ADMIN, SITE, AppClient, drop_prefix, make_settings

APP_SETTINGS: dict[str, Any] = {"intent_encoder": None, "log_level": "WARNING"}

PADDLING: dict[str, Any] = {
    "id": "paddling",
    "labels": {"de": "Paddeln", "en": "Paddling"},
    "descriptions": {"de": "Kajak und Kanu.", "en": "Kayak and canoe."},
    "synonyms": {"de": ["paddeln", "kajak"], "en": ["paddling", "kayak"]},
    "path_segments": ["paddeln"],
}


def item(item_id: str, *categories: str) -> dict[str, Any]:
    return {
        "id": item_id, "title": "Titel", "slot": "hero", "channel": "web", "language": "de",
        "template": "<p>{{ item.title }}</p>", "status": "live",
        "targeting": {"categories": list(categories)},
    }  # fmt: skip


@pytest.fixture
def original(backend_client: TestClient) -> Iterator[dict[str, Any]]:
    """The taxonomy in use before the test; put back afterwards."""
    before = backend_client.get("/v1/taxonomy", headers=ADMIN).json()
    yield copy.deepcopy(before)
    backend_client.put("/v1/taxonomy", headers=ADMIN, json=before)


def test_read_as_json_yaml_and_short_list(backend_client: TestClient) -> None:
    as_json = backend_client.get("/v1/taxonomy", headers=ADMIN)
    assert as_json.status_code == 200
    ids = [c["id"] for c in as_json.json()["categories"]]
    assert {"hiking", "camping", "climbing"} <= set(ids)
    as_yaml = backend_client.get("/v1/taxonomy?format=yaml", headers=ADMIN)
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == as_json.json()
    accepted = backend_client.get("/v1/taxonomy", headers=ADMIN | {"Accept": "application/yaml"})
    assert yaml.safe_load(accepted.text) == as_json.json()
    short = backend_client.get("/v1/taxonomy/categories", headers=ADMIN).json()
    assert [c["id"] for c in short] == ids
    assert short[0]["labels"].keys() == {"de", "en"}
    assert backend_client.get("/v1/taxonomy", headers=SITE).status_code == 403


def test_replace_as_yaml_is_read_by_the_situation(
    backend_client: TestClient, original: dict[str, Any]
) -> None:
    context = {"context": {"site_search": "kajak"}}
    before = backend_client.post("/v1/situation", headers=SITE, json=context).json()
    assert "paddling" not in [i["category"] for i in before["interests"]]
    new = copy.deepcopy(original)
    new["categories"].append(PADDLING)
    put = backend_client.put("/v1/taxonomy", headers=ADMIN | {"Content-Type": "application/yaml"},
                             content=yaml.safe_dump(new, allow_unicode=True))  # fmt: skip
    assert put.status_code == 200 and "paddling" in put.json()["categories"]
    after = backend_client.post("/v1/situation", headers=SITE, json=context).json()
    assert after["interests"][0]["category"] == "paddling"
    short = backend_client.get("/v1/taxonomy/categories", headers=ADMIN).json()
    assert short[-1] == {"id": "paddling", "labels": {"de": "Paddeln", "en": "Paddling"}}


def test_invalid_taxonomy_is_422_naming_the_field_and_nothing_is_stored(
    backend_client: TestClient, original: dict[str, Any]
) -> None:
    bad = copy.deepcopy(original)
    bad["categories"][1]["labels"]["de"] = ""
    bad["categories"][2]["id"] = "Not An Id"
    response = backend_client.put("/v1/taxonomy", headers=ADMIN, json=bad)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["title"] == "Invalid taxonomy"
    fields = {e["field"] for e in problem["errors"]}
    assert {"categories.1.labels.de", "categories.2.id"} <= fields
    assert "categories.1.labels.de" in problem["detail"]
    not_yaml = backend_client.put("/v1/taxonomy", headers=ADMIN | {"Content-Type": "text/yaml"},
                                  content=b"categories: [")  # fmt: skip
    assert not_yaml.status_code == 422 and "not valid YAML" in not_yaml.json()["detail"]
    not_json = backend_client.put("/v1/taxonomy", headers=ADMIN, content=b"{")
    assert not_json.status_code == 422 and not_json.json()["errors"][0]["field"] == "body"
    duplicate = copy.deepcopy(original)
    duplicate["categories"].append(copy.deepcopy(original["categories"][0]))
    assert backend_client.put("/v1/taxonomy", headers=ADMIN, json=duplicate).status_code == 422
    assert backend_client.get("/v1/taxonomy", headers=ADMIN).json() == original


def test_removing_a_category_live_content_names_is_409(
    backend_client: TestClient, original: dict[str, Any]
) -> None:
    assert backend_client.post("/v1/content", headers=ADMIN,
                               json=item("tx-climb", "climbing")).status_code == 201  # fmt: skip
    without = copy.deepcopy(original)
    without["categories"] = [c for c in without["categories"] if c["id"] != "climbing"]
    refused = backend_client.put("/v1/taxonomy", headers=ADMIN, json=without)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "tx-climb" in refused.json()["detail"] and "climbing" in refused.json()["detail"]
    assert backend_client.get("/v1/taxonomy", headers=ADMIN).json() == original
    # re-tagged, the category can go
    backend_client.patch("/v1/content/tx-climb", headers=ADMIN,
                         json={"targeting": {"categories": ["hiking"]}})  # fmt: skip
    assert backend_client.put("/v1/taxonomy", headers=ADMIN, json=without).status_code == 200


def test_content_naming_an_unknown_category_is_422(backend_client: TestClient) -> None:
    response = backend_client.post("/v1/content", headers=ADMIN, json=item("tx-wander", "wandern"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert "unknown category 'wandern' — known: " in detail and "camping, climbing" in detail
    assert response.json()["errors"][0]["field"] == "targeting.categories.0"
    missing = backend_client.get("/v1/content/tx-wander", headers=ADMIN)
    assert missing.status_code == 404
    validated = backend_client.post("/v1/content/validate", headers=ADMIN,
                                    json=item("tx-wander", "wandern"))  # fmt: skip
    assert "wandern" in validated.text


def test_an_affinity_to_an_unknown_topic_is_422_in_segments_and_content(
    backend_client: TestClient,
) -> None:
    condition = 'profile.lifecycle == "active" and affinity("wandern") > 0.3'
    response = backend_client.put("/v1/segments/tx_walkers", headers=ADMIN,
                                  json={"condition": condition})  # fmt: skip
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert "unknown topic 'wandern' in affinity()" in detail and "hiking" in detail
    assert f"position {condition.index(chr(34) + 'wandern')}" in detail
    assert backend_client.get("/v1/segments/tx_walkers", headers=ADMIN).status_code == 404
    fine = condition.replace("wandern", "hiking")
    assert backend_client.put("/v1/segments/tx_walkers", headers=ADMIN,
                              json={"condition": fine}).status_code == 200  # fmt: skip

    body = item("tx-walk", "hiking")
    body["targeting"]["audience"] = 'affinity("wandern") > 0.3'
    response = backend_client.post("/v1/content", headers=ADMIN, json=body)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "targeting.audience" and "unknown topic 'wandern'" in error["message"]
    assert backend_client.get("/v1/content/tx-walk", headers=ADMIN).status_code == 404


def test_a_replacement_reaches_another_worker(app_client: AppClient, redis_url: str) -> None:
    prefix = f"kt{uuid.uuid4().hex[:10]}"
    shared = {"redis_url": redis_url, "redis_prefix": prefix, "definitions_refresh_seconds": 0.2}
    first, second = app_client(**shared), app_client(**shared)
    taxonomy = first.get("/v1/taxonomy", headers=ADMIN).json()
    context = {"context": {"site_search": "kajak"}}
    try:
        taxonomy["categories"].append(PADDLING)
        assert first.put("/v1/taxonomy", headers=ADMIN, json=taxonomy).status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the second worker's reload, not a request
            interests = second.post("/v1/situation", headers=SITE, json=context).json()["interests"]
            if interests and interests[0]["category"] == "paddling":
                break
            time.sleep(0.1)
        else:
            pytest.fail("the second worker did not reload the taxonomy")
        ids = [c["id"] for c in second.get("/v1/taxonomy/categories", headers=ADMIN).json()]
        assert "paddling" in ids
        assert second.post("/v1/content", headers=ADMIN,
                           json=item("tx-kayak", "paddling")).status_code == 201  # fmt: skip
    finally:
        drop_prefix(redis_url, prefix)


def test_a_content_directory_naming_unknown_categories_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "hero.yaml").write_text(
        "id: a\ntitle: A\nslot: hero\nchannel: web\nlanguage: de\ntemplate: x\n"
        "targeting: {categories: [wandern]}\n"
    )
    app = create_app(make_settings(content_dir=tmp_path, intent_encoder=None))
    unknown = "a.targeting.categories.0: unknown category 'wandern'"
    with pytest.raises(InvalidContent, match=unknown):
        with TestClient(app):
            pass
