"""POST /v1/events: one event or a batch, partial acceptance, idempotency, 503 when the store is
down."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, SERVER, SITE, AppClient

APP_SETTINGS = {"intent_encoder": "hashing", "max_batch_events": 5}


@pytest.fixture(scope="module")
def client(backend_client: TestClient) -> TestClient:
    """One app per backend (memory, redis) for the module; tests use their own ids."""
    return backend_client


@pytest.fixture
def who() -> str:
    return f"u-{uuid.uuid4().hex[:12]}"


def event(event_id: str, kind: str = "page_view", who: str = "u1", **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": kind, "profile_id": who, **fields}


def test_one_event_is_stored_before_the_answer(client: TestClient, who: str) -> None:
    body = event("e1", who=who, properties={"category": "boots"})
    answer = client.post("/v1/events", json=body, headers=SERVER)
    assert answer.status_code == 200
    assert answer.json() == {"complete": True, "accepted": ["e1"], "duplicates": [],
                             "rejected": []}
    profile = client.get(f"/v1/profiles/{who}", headers=ADMIN).json()
    assert profile["event_count"] == 1 and "boots" in profile["affinities"]["scores"]


def test_batch_stores_the_good_events_and_names_the_bad_ones(client: TestClient, who: str) -> None:
    batch = [
        event("g1", "login", who),
        event("b1", "purchase", who,
              properties={"order_id": "o1", "value": 10, "currency": "EUR"}),
        event("g2", "search", who, properties={"query": "tents"}),
        {"event_id": "b2", "type": "page_view"},
    ]
    answer = client.post("/v1/events", json={"events": batch}, headers=SERVER)
    assert answer.status_code == 200
    receipt = answer.json()
    assert receipt["complete"] is False
    assert receipt["accepted"] == ["g1", "g2"]
    assert [(r["index"], r["event_id"]) for r in receipt["rejected"]] == [(1, "b1"), (3, "b2")]
    assert "items" in receipt["rejected"][0]["reason"]
    assert "profile_id or anonymous_id" in receipt["rejected"][1]["reason"]
    profile = client.get(f"/v1/profiles/{who}", headers=ADMIN).json()
    assert profile["event_count"] == 2 and profile["rfm"]["orders"] == 0


def test_a_batch_with_nothing_valid_is_a_problem(client: TestClient) -> None:
    answer = client.post("/v1/events", json={"events": [{"type": "login"}, 42]}, headers=SERVER)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["index"] for e in answer.json()["errors"]] == [0, 1]
    assert answer.json()["detail"].startswith("event 0:")


def test_repeated_event_ids_are_acknowledged_and_applied_once(client: TestClient, who: str) -> None:
    batch = {"events": [event("e1", "purchase", who, properties={
        "order_id": "o1", "value": 20, "currency": "EUR",
        "items": [{"product_id": "p1", "category": "boots"}]})]}
    client.post("/v1/events", json=batch, headers=SERVER)
    again = client.post("/v1/events", json=batch, headers=SERVER)
    assert again.status_code == 200
    assert again.json()["accepted"] == [] and again.json()["duplicates"] == ["e1"]
    profile = client.get(f"/v1/profiles/{who}", headers=ADMIN).json()
    assert profile["rfm"]["orders"] == 1 and profile["rfm"]["revenue"] == 20


@pytest.mark.parametrize(("body", "detail"), [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "send one event object"),
    (b'{"events": []}', "empty"),
    (b'{"events": {"a": 1}}', "must be a list"),
])
def test_malformed_bodies_are_refused(client: TestClient, body: bytes, detail: str) -> None:
    answer = client.post("/v1/events", content=body, headers=SERVER | {
        "content-type": "application/json"})
    assert answer.status_code == 422 and detail in answer.json()["detail"]


def test_batches_over_the_limit_are_refused_whole(client: TestClient, who: str) -> None:
    batch = {"events": [event(f"e{i}", "login", who) for i in range(6)]}
    answer = client.post("/v1/events", json=batch, headers=SERVER)
    assert answer.status_code == 422 and "at most 5" in answer.json()["detail"]
    assert client.get(f"/v1/profiles/{who}", headers=ADMIN).status_code == 404


def test_the_site_key_is_needed(client: TestClient) -> None:
    assert client.post("/v1/events", json=event("e1")).status_code == 401
    assert client.post("/v1/events", json=event("e1"), headers={"X-API-Key": "x"}).status_code \
        == 403


def test_unreachable_store_is_a_503_with_retry_after(app_client: AppClient) -> None:
    client = app_client(redis_url="redis://127.0.0.1:1/0", redis_timeout_seconds=0.2)
    answer = client.post("/v1/events", json=event("e1"), headers=SERVER)
    assert answer.status_code == 503
    assert answer.headers["retry-after"]
    assert answer.json()["title"] == "Store unavailable"


def test_the_topics_of_pages_and_searches_feed_the_affinities(client: TestClient, who: str) -> None:
    batch = [
        event("t1", "page_view", who,
              properties={"url": "https://shop.example/de/zelte/ultraleicht"}),
        event("t2", "search", who, properties={"query": "wanderschuhe"}),
        event("t3", "page_view", who, properties={"url": "/de/zelte", "category": "climbing"}),
    ]
    answer = client.post("/v1/events", json={"events": batch}, headers=SERVER)
    assert answer.status_code == 200 and answer.json()["accepted"] == ["t1", "t2", "t3"]
    profile = client.get(f"/v1/profiles/{who}", headers=ADMIN).json()
    scores = profile["affinities"]["scores"]
    assert set(scores) == {"camping", "hiking", "climbing"}  # the named category wins in t3
    assert scores["camping"] < scores["climbing"]  # a path reads 0.55: it adds less
    stored = client.get(f"/v1/profiles/{who}/export", headers=ADMIN).json()["events"]
    assert {e["event_id"]: [t["category"] for t in e.get("inferred", [])] for e in stored} == {
        "t1": ["camping"], "t2": ["hiking"], "t3": []}


def test_the_site_key_reports_behaviour_and_the_rest_is_refused_by_rule(
    client: TestClient, who: str
) -> None:
    known = client.post("/v1/events", json=event("k1", "login", who), headers=SERVER)
    assert known.status_code == 200
    visitor = f"aid-{uuid.uuid4().hex[:10]}"
    batch = [
        {"event_id": "s1", "type": "page_view", "anonymous_id": visitor},
        {"event_id": "s2", "type": "purchase", "anonymous_id": visitor, "properties": {
            "order_id": "o1", "value": 99999, "currency": "EUR",
            "items": [{"product_id": "p1", "category": "boots"}]}},
        event("s4", "page_view", who),  # a profile_id without proof
        {"event_id": "s5", "type": "page_view", "anonymous_id": who},  # a known person's id
        {"event_id": "s6", "type": "consent_update", "anonymous_id": visitor,
         "properties": {"consents": {"email": True}}},
    ]
    answer = client.post("/v1/events", json={"events": batch}, headers=SITE)
    assert answer.status_code == 200
    receipt = answer.json()
    assert receipt["accepted"] == ["s1"] and receipt["complete"] is False  # (at most 5 a batch)
    reasons = {r["event_id"]: r["reason"] for r in receipt["rejected"]}
    assert set(reasons) == {"s2", "s4", "s5", "s6"}
    assert all(r.startswith("not allowed with the site key: ") for r in reasons.values())
    assert "'purchase' needs the server key" in reasons["s2"]
    assert "X-Kairos-Identity" in reasons["s4"]
    assert "known customer" in reasons["s5"]
    assert client.get(f"/v1/profiles/{who}", headers=ADMIN).json()["event_count"] == 1
    assert client.get(f"/v1/profiles/{visitor}", headers=ADMIN).json()["event_count"] == 1
