"""/v1/profiles/{id}/actions and /v1/programmes: admin only, explained, validated."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from personalization.automation.programmes import dumps_programmes, load_programmes
from tests.service.apps import ADMIN, SERVER, SITE, AppClient, drop_prefix
from tests.service.reacting import react

CART_ONLY = {"programmes": [{
    "id": "cart_nudge", "name": "Cart nudge", "trigger": {"event": "add_to_cart"},
    "action": {"id": "nudge", "type": "cart_reminder", "channels": ["email"], "delay": "2h"},
}]}


APP_SETTINGS = {"intent_encoder": "hashing", "worker_in_app": False}


@pytest.fixture(scope="module")
def client(backend_client: TestClient) -> TestClient:
    """One app per backend (memory, redis) for the module; due steps stay unpublished."""
    return backend_client


@pytest.fixture
def defaults(client: TestClient) -> Iterator[None]:
    """Leave the default programmes in place after a test that replaces them."""
    yield
    answer = client.put("/v1/programmes", content=dumps_programmes(load_programmes()),
                        headers={**ADMIN, "Content-Type": "application/yaml"})
    assert answer.status_code == 200


def send(client: TestClient, who: str, *events: dict[str, Any]) -> None:
    batch = [{"event_id": uuid.uuid4().hex, "profile_id": who, **e} for e in events]
    answer = client.post("/v1/events", json={"events": batch}, headers=SERVER)
    assert answer.status_code == 200, answer.text
    react(client)  # with Redis, `kairos worker` runs the automation on what was stored


def test_a_persons_pending_and_past_actions_with_reasons(client: TestClient) -> None:
    who = f"ana-{uuid.uuid4().hex[:8]}"
    send(client, who, {"type": "consent_update", "properties": {"consents": {"email": True}}})
    send(client, who, {"type": "add_to_cart",
                       "properties": {"product_id": "p1", "price": 20, "category": "socks"}})
    send(client, who, {"type": "add_to_cart",
                       "properties": {"product_id": "p2", "price": 20, "category": "socks"}})
    answer = client.get(f"/v1/profiles/{who}/actions", headers=ADMIN)
    assert answer.status_code == 200
    body = answer.json()
    assert [(a["step"], a["status"]) for a in body["pending"]] == [
        ("reminder", "pending"), ("incentive", "pending")]
    reminder = body["pending"][0]
    assert reminder["channel"] == "email"
    assert reminder["reasons"][0].startswith("cart_abandonment triggered: add_to_cart at ")
    assert {a["status"] for a in body["past"]} == {"cancelled"}
    assert body["past"][0]["note"].startswith("restarted by add_to_cart")
    assert client.get(f"/v1/profiles/{who}/actions", headers=SITE).status_code in (401, 403)
    assert client.get("/v1/profiles/a{b}/actions", headers=ADMIN).status_code == 422


def test_erasing_the_person_erases_their_actions(client: TestClient) -> None:
    who = f"eve-{uuid.uuid4().hex[:8]}"
    send(client, who, {"type": "consent_update", "properties": {"consents": {"email": True}}},
         {"type": "account_created"})
    assert client.get(f"/v1/profiles/{who}/actions", headers=ADMIN).json()["pending"]
    assert client.delete(f"/v1/profiles/{who}", headers=ADMIN).status_code == 204
    assert client.get(f"/v1/profiles/{who}/actions", headers=ADMIN).json() == {
        "profile_id": who, "pending": [], "past": []}


def test_programmes_are_listed_as_json_or_yaml(client: TestClient) -> None:
    listed = client.get("/v1/programmes", headers=ADMIN)
    assert listed.status_code == 200
    ids = [p["id"] for p in listed.json()["programmes"]]
    assert "cart_abandonment" in ids and "human_handover" in ids
    as_yaml = client.get("/v1/programmes", headers={**ADMIN, "Accept": "application/yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert "id: cart_abandonment" in as_yaml.text
    assert client.get("/v1/programmes", headers=SITE).status_code in (401, 403)


def test_replacing_programmes_changes_what_events_start(
    client: TestClient, defaults: None,
) -> None:
    answer = client.put("/v1/programmes", json=CART_ONLY, headers=ADMIN)
    assert answer.status_code == 200 and answer.json() == {"programmes": ["cart_nudge"]}
    who = f"max-{uuid.uuid4().hex[:8]}"
    send(client, who, {"type": "consent_update", "properties": {"consents": {"email": True}}},
         {"type": "account_created"},
         {"type": "add_to_cart", "properties": {"product_id": "p1", "price": 5}})
    pending = client.get(f"/v1/profiles/{who}/actions", headers=ADMIN).json()["pending"]
    assert [(a["programme"], a["step"]) for a in pending] == [("cart_nudge", "nudge")]


@pytest.mark.parametrize("body, headers, field, message", [
    ("programmes: [unclosed", {"Content-Type": "application/yaml"}, "line 1, column 22",
     "not valid YAML"),
    ('{"programmes": [', {"Content-Type": "application/json"}, "body", "not valid JSON"),
    ('{"programmes": [{"id": "x", "name": "X", "trigger": {"event": "login"}, '
     '"action": {"id": "a", "type": "t", "channels": ["email"], "delay": "soon"}}]}',
     {"Content-Type": "application/json"}, "programmes.0(x).action.delay",
     "'soon' is not a duration"),
])
def test_invalid_programmes_are_refused_naming_the_problem(
    client: TestClient, body: str, headers: dict[str, str], field: str, message: str,
) -> None:
    answer = client.put("/v1/programmes", content=body, headers={**ADMIN, **headers})
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["title"] == "Invalid programmes"
    assert problem["errors"][0]["field"].startswith(field)
    assert message in problem["errors"][0]["message"]
    assert "cart_abandonment" in [p["id"] for p in client.get(
        "/v1/programmes", headers=ADMIN).json()["programmes"]]


def test_import_a_yaml_file(client: TestClient, defaults: None) -> None:
    text = dumps_programmes(load_programmes()).replace("id: birthday\n", "id: birthday_v2\n")
    answer = client.post("/v1/programmes/import", headers=ADMIN,
                         files={"file": ("programmes.yml", text, "application/yaml")})
    assert answer.status_code == 200
    assert "birthday_v2" in answer.json()["programmes"]


def test_the_app_publishes_due_steps_itself_without_redis(app_client: AppClient) -> None:
    # no quiet hours: the welcome mail is due now at any time of day the suite runs
    client = app_client(worker_in_app=None, worker_poll_seconds=0.02,
                        quiet_hours_start="00:00", quiet_hours_end="00:00")
    who = f"ida-{uuid.uuid4().hex[:8]}"
    send(client, who, {"type": "consent_update", "properties": {"consents": {"email": True}}},
         {"type": "account_created"})
    for _ in range(200):
        past = client.get(f"/v1/profiles/{who}/actions", headers=ADMIN).json()["past"]
        if past:
            break
        time.sleep(0.02)
    assert [(a["step"], a["status"]) for a in past] == [("welcome", "sent")]
    assert past[0]["published_at"] is not None


def test_programmes_replaced_through_one_app_reach_another(
    redis_url: str, app_client: AppClient
) -> None:
    prefix = f"kt{uuid.uuid4().hex[:10]}"
    config = {"redis_url": redis_url, "redis_prefix": prefix, "worker_in_app": None}
    try:
        one, other = app_client(**config), app_client(**config)
        assert one.put("/v1/programmes", json=CART_ONLY, headers=ADMIN).status_code == 200
        who = f"leo-{uuid.uuid4().hex[:8]}"
        send(other, who,
             {"type": "consent_update", "properties": {"consents": {"email": True}}},
             {"type": "add_to_cart", "properties": {"product_id": "p1", "price": 5}})
        pending = other.get(f"/v1/profiles/{who}/actions", headers=ADMIN).json()["pending"]
        assert [a["programme"] for a in pending] == ["cart_nudge"]
    finally:
        drop_prefix(redis_url, prefix)
