"""The integration routes through the real app: imports, link tokens, segments, A/B tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings

SITE_KEY, ADMIN_KEY = "site-test-key-000", "admin-test-key-000"
ADMIN = {"X-API-Key": ADMIN_KEY}


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "site_key": SITE_KEY, "admin_key": ADMIN_KEY, "log_json": False,
        "intent_encoder": "hashing", "content_dir": None,
        "link_secret": "a-link-secret-of-32-bytes-000000", "definitions_refresh_seconds": 0,
    }  # fmt: skip
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(max_body_bytes=50_000_000))) as test_client:
        yield test_client


def crm_rows(count: int, start: int = 0) -> Iterator[bytes]:
    yield b"customer_id;first_name;consent_personalisation;consent_email\n"
    for i in range(start, start + count):
        yield f"C{i};Name{i};{'ja' if i % 2 else 'nein'};ja\n".encode()


# -- imports ---------------------------------------------------------------------------------------
def test_a_streamed_profile_upload_is_imported_once(client: TestClient) -> None:
    first = client.post("/v1/imports/profiles", content=crm_rows(1200),
                        headers={**ADMIN, "Content-Type": "text/csv"})  # fmt: skip
    assert first.status_code == 200, first.text
    assert {k: first.json()[k] for k in ("read", "created", "updated", "skipped", "rejected")} == {
        "read": 1200, "created": 1200, "updated": 0, "skipped": 0, "rejected": 0
    }
    again = client.post("/v1/imports/profiles?format=csv", content=crm_rows(1200), headers=ADMIN)
    assert (again.json()["created"], again.json()["skipped"]) == (0, 1200)
    profile = client.get("/v1/profiles/C7", headers=ADMIN).json()
    assert profile["known"]["first_name"] == "Name7"


def test_import_rejections_name_line_and_reason(client: TestClient) -> None:
    body = (b'{"order_id": "A1", "customer_id": "C1", "ordered_at": "2026-01-02T10:00:00Z", '
            b'"total": 20, "category": "boots"}\n'
            b'{"order_id": "A2", "customer_id": "C1", "total": 20, "category": "boots"}\n'
            b"garbage\n")  # fmt: skip
    result = client.post("/v1/imports/events", content=body,
                         headers={**ADMIN, "Content-Type": "application/x-ndjson"}).json()
    assert (result["created"], result["rejected"]) == (1, 2)
    assert [(r["line"], r["id"]) for r in result["rejections"]] == [(2, "A2"), (3, None)]
    assert "ordered_at is missing" in result["rejections"][0]["reason"]


def test_imports_need_the_admin_key_and_a_format(client: TestClient) -> None:
    site = {"X-API-Key": SITE_KEY}
    assert client.post("/v1/imports/profiles?format=csv", content=b"x", headers=site
                       ).status_code == 403  # fmt: skip
    missing = client.post("/v1/imports/profiles", content=b"customer_id\nC1\n", headers=ADMIN)
    assert missing.status_code == 415 and "format=csv" in missing.json()["detail"]


def test_an_upload_over_the_import_limit_is_refused() -> None:
    settings = make_settings(max_body_bytes=50_000_000, max_import_bytes=10_000)
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/imports/profiles?format=csv", content=crm_rows(2000),
                               headers=ADMIN)  # fmt: skip
    assert response.status_code == 413


# -- link tokens -----------------------------------------------------------------------------------
def test_link_tokens_for_the_mail_system(client: TestClient) -> None:
    response = client.get("/v1/links/token", params={"profile_id": "C-1", "ttl_days": 7},
                          headers=ADMIN)  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == f"kt={body['token']}" and body["profile_id"] == "C-1"
    assert client.get("/v1/links/token", params={"profile_id": "a b"}, headers=ADMIN
                      ).status_code == 422  # fmt: skip
    assert client.get("/v1/links/token", params={"profile_id": "p", "ttl_days": 400},
                      headers=ADMIN).status_code == 422  # fmt: skip
    assert client.get("/v1/links/token", params={"profile_id": "p"},
                      headers={"X-API-Key": SITE_KEY}).status_code == 403  # fmt: skip


def test_without_a_link_secret_tokens_are_off() -> None:
    with TestClient(create_app(make_settings(link_secret=None))) as client:
        response = client.get("/v1/links/token", params={"profile_id": "p"}, headers=ADMIN)
    assert response.status_code == 503 and "KAIROS_LINK_SECRET" in response.json()["detail"]


def test_short_link_secrets_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        make_settings(link_secret="short")


# -- segments --------------------------------------------------------------------------------------
def test_segments_crud_and_size(client: TestClient) -> None:
    client.post("/v1/imports/events?format=csv", headers=ADMIN, content=(
        "order_id,customer_id,ordered_at,total,category\n" + "".join(
            f"O{i},C{i},2026-01-0{1 + i % 9}T10:00:00Z,{600 if i % 5 == 0 else 30},boots\n"
            for i in range(50))).encode())  # fmt: skip
    put = client.put("/v1/segments/big_spenders", headers=ADMIN,
                     json={"condition": "profile.monetary >= 500", "description": "VIPs"})
    assert put.status_code == 200 and put.json()["name"] == "big_spenders"
    bad = client.put("/v1/segments/broken", headers=ADMIN, json={"condition": "profile.x >"})
    assert bad.status_code == 422
    assert client.put("/v1/segments/Bad-Name", headers=ADMIN, json={"condition": "true"}
                      ).status_code == 422  # fmt: skip
    size = client.get("/v1/segments/big_spenders/size", headers=ADMIN).json()
    assert (size["estimate"], size["profiles"], size["exact"]) == (10, 50, True)
    sampled = client.get("/v1/segments/big_spenders/size?sample_size=20", headers=ADMIN).json()
    assert not sampled["exact"] and sampled["sampled"] == 20
    assert sampled["low"] <= sampled["estimate"] <= sampled["high"]
    assert "estimate from a random sample of 20 of 50 profiles" in sampled["note"]
    assert [s["name"] for s in client.get("/v1/segments", headers=ADMIN).json()] == [
        "big_spenders"
    ]
    assert client.delete("/v1/segments/big_spenders", headers=ADMIN).status_code == 204
    missing = client.get("/v1/segments/big_spenders", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["title"] == "Segment not found"


# -- A/B tests -------------------------------------------------------------------------------------
def test_abtests_lifecycle_and_conflicts(client: TestClient) -> None:
    definition = {"slot": "hero", "goal": "click", "stop_rule": "fixed_horizon",
                  "baseline_rate": 0.1, "minimum_effect": 0.5,
                  "variants": [{"name": "a", "item_id": "i-a", "share": 0.5},
                               {"name": "b", "item_id": "i-b", "share": 0.5}]}  # fmt: skip
    created = client.put("/v1/abtests/hero-1", headers=ADMIN, json=definition)
    assert created.status_code == 200 and created.json()["required_per_variant"] == 686
    client.put("/v1/abtests/hero-2", headers=ADMIN, json=definition)
    assert client.post("/v1/abtests/hero-1/start", headers=ADMIN).json()["status"] == "running"
    conflict = client.post("/v1/abtests/hero-2/start", headers=ADMIN)
    assert conflict.status_code == 409 and "already runs on slot" in conflict.json()["detail"]
    assert client.put("/v1/abtests/hero-1", headers=ADMIN, json=definition).status_code == 409
    results = client.get("/v1/abtests/hero-1/results", headers=ADMIN).json()
    assert not results["decided"] and "no verdict before the horizon" in results["verdict"]
    assert [v["participants"] for v in results["variants"]] == [0, 0]
    assert client.post("/v1/abtests/hero-1/stop", headers=ADMIN).json()["status"] == "stopped"
    assert client.delete("/v1/abtests/hero-1", headers=ADMIN).status_code == 204
    assert client.get("/v1/abtests/hero-1", headers=ADMIN).status_code == 404
    shares = {**definition, "variants": [{"name": "a", "item_id": "x", "share": 0.9},
                                         {"name": "b", "item_id": "y", "share": 0.3}]}
    assert client.put("/v1/abtests/bad", headers=ADMIN, json=shares).status_code == 422
