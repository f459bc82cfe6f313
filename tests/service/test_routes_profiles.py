"""/v1/profiles: read, correct, export and erase, with the admin key; ids validated."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, SERVER, SITE

APP_SETTINGS = {"intent_encoder": "hashing"}


@pytest.fixture(scope="module")
def client(backend_client: TestClient) -> TestClient:
    """One app per backend (memory, redis) for the module; its settings name the Redis keys."""
    return backend_client


@pytest.fixture
def who(client: TestClient) -> str:
    """A person with a login, a purchase and a cart item."""
    who = f"ana-{uuid.uuid4().hex[:8]}@example.org"
    events = [
        {"event_id": "e1", "type": "login", "profile_id": who},
        {"event_id": "e2", "type": "purchase", "profile_id": who, "properties": {
            "order_id": "o1", "value": 80, "currency": "EUR",
            "items": [{"product_id": "p1", "category": "boots"}]}},
        {"event_id": "e3", "type": "add_to_cart", "profile_id": who,
         "properties": {"product_id": "p2", "price": 15, "category": "socks"}},
    ]
    assert client.post("/v1/events", json={"events": events}, headers=SERVER).status_code == 200
    return who


def redis_keys_mentioning(client: TestClient, text: str) -> list[str]:
    config = client.app.state.settings  # type: ignore[attr-defined]
    if config.redis_url is None:
        return []
    conn = redis.Redis.from_url(config.redis_url)
    found = [k.decode() for k in conn.scan_iter(match=f"{config.redis_prefix}:*") if text in
             k.decode()]
    conn.close()
    return found


def test_admin_reads_the_profile(client: TestClient, who: str) -> None:
    answer = client.get(f"/v1/profiles/{who}", headers=ADMIN)
    assert answer.status_code == 200
    profile = answer.json()
    assert profile["profile_id"] == who
    assert profile["lifecycle"]["stage"] == "new_customer"
    assert profile["cart"]["items"][0]["product_id"] == "p2"
    assert profile["rfm"]["last_order_id"] == "o1"


def test_profiles_need_the_admin_key(client: TestClient, who: str) -> None:
    assert client.get(f"/v1/profiles/{who}").status_code == 401
    assert client.get(f"/v1/profiles/{who}", headers=SITE).status_code == 403
    assert client.delete(f"/v1/profiles/{who}", headers=SITE).status_code == 403


@pytest.mark.parametrize("bad_id", ["a{b}", "x" * 129, "white space", "ümlaut"])
def test_profile_ids_are_validated(client: TestClient, bad_id: str) -> None:
    answer = client.get(f"/v1/profiles/{bad_id}", headers=ADMIN)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


def test_unknown_profile_is_404(client: TestClient) -> None:
    answer = client.get("/v1/profiles/nobody-here", headers=ADMIN)
    assert answer.status_code == 404 and answer.json()["title"] == "Profile not found"
    assert client.get("/v1/profiles/nobody-here/export", headers=ADMIN).status_code == 404


def test_patch_corrects_attributes_and_consent(client: TestClient, who: str) -> None:
    answer = client.patch(f"/v1/profiles/{who}", headers=ADMIN, json={
        "attributes": {"language": "de", "postcode": "80331", "birthday": "1990-05-17"},
        "consents": {"email": True, "personalisation": False}, "source": "support-ticket"})
    assert answer.status_code == 200
    profile = answer.json()
    assert profile["known"]["language"] == "de" and profile["known"]["region"] == "80"
    assert profile["consent"]["email"]["granted"] is True
    assert profile["consent"]["email"]["source"] == "support-ticket"
    assert profile["consent"]["personalisation"]["granted"] is False
    cleared = client.patch(f"/v1/profiles/{who}", headers=ADMIN,
                           json={"attributes": {"language": None}})
    assert cleared.json()["known"]["language"] is None


@pytest.mark.parametrize("body", [{}, {"attributes": {}}, {"consents": {"telepathy": True}},
                                  {"attributes": {"language": "German"}}, {"name": "x"}])
def test_patch_refuses_what_it_cannot_apply(client: TestClient, who: str,
                                            body: dict[str, Any]) -> None:
    assert client.patch(f"/v1/profiles/{who}", headers=ADMIN, json=body).status_code == 422


def test_patch_of_an_unknown_profile_is_404(client: TestClient) -> None:
    answer = client.patch("/v1/profiles/nobody-here", headers=ADMIN,
                          json={"attributes": {"language": "de"}})
    assert answer.status_code == 404


def test_export_holds_profile_and_events(client: TestClient, who: str) -> None:
    answer = client.get(f"/v1/profiles/{who}/export", headers=ADMIN)
    assert answer.status_code == 200
    exported = answer.json()
    assert exported["profile"]["profile_id"] == who
    assert [e["event_id"] for e in exported["events"]] == ["e1", "e2", "e3"]
    assert set(exported["records"]) == {"actions", "conversation"}
    assert set(exported["counters"]) == {"caps", "ab"}


def test_delete_erases_everything(client: TestClient, who: str) -> None:
    if client.app.state.settings.redis_url is not None:  # type: ignore[attr-defined]
        assert redis_keys_mentioning(client, who)  # the person is in Redis before
    answer = client.delete(f"/v1/profiles/{who}", headers=ADMIN)
    assert answer.status_code == 204
    assert client.get(f"/v1/profiles/{who}", headers=ADMIN).status_code == 404
    assert client.get(f"/v1/profiles/{who}/export", headers=ADMIN).status_code == 404
    assert redis_keys_mentioning(client, who) == []
    assert client.delete(f"/v1/profiles/{who}", headers=ADMIN).status_code == 204
