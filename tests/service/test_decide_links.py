"""A newsletter link's signed token makes /v1/decide personal; a tampered one is ignored safely."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import PACKAGE_ROOT
from tests.service.apps import ADMIN_KEY, SERVER, SITE_KEY, make_settings

SITE = {"X-API-Key": SITE_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}
BROWSER = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.0 Safari/605.1.15")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = make_settings(link_secret="a-secret-of-thirty-two-bytes!!!!", holdout_share=0.0,
                             content_dir=PACKAGE_ROOT / "content_pool" / "demo")
    with TestClient(create_app(settings)) as c:
        events = [
            {"event_id": "l1", "type": "account_created", "profile_id": "mia"},
            {"event_id": "l2", "type": "consent_update", "profile_id": "mia",
             "properties": {"consents": {"personalisation": True}}},
        ]
        assert c.post("/v1/events", json={"events": events}, headers=SERVER).status_code == 200
        yield c


def decide(client: TestClient, url: str) -> dict[str, object]:
    answer = client.post("/v1/decide", headers=SITE, json={
        "session_id": "s-link", "slots": ["hero"],
        "context": {"url": url, "user_agent": BROWSER, "accept_language": "de"}})
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_a_valid_token_names_the_person_and_marks_the_visit_as_email(client: TestClient) -> None:
    issued = client.get("/v1/links/token", params={"profile_id": "mia"}, headers=ADMIN)
    assert issued.status_code == 200, issued.text
    query = issued.json()["query"]
    decision = decide(client, f"https://shop.example/de/?{query}")
    assert decision["personalised"] is True
    assert decision["situation"]["medium"] == "email"  # type: ignore[index]


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # tampered
    lambda token: "garbage",
    lambda token: token.split(".")[0],  # truncated
])
def test_a_tampered_or_garbage_token_is_ignored(client: TestClient, mangle: object) -> None:
    issued = client.get("/v1/links/token", params={"profile_id": "mia"}, headers=ADMIN).json()
    bad = mangle(issued["token"])  # type: ignore[operator]
    decision = decide(client, f"https://shop.example/de/?{issued['param']}={bad}")
    assert decision["personalised"] is False
    assert decision["lifecycle"] == "anonymous"


def test_the_token_route_needs_the_admin_key(client: TestClient) -> None:
    assert client.get("/v1/links/token", params={"profile_id": "mia"},
                      headers=SITE).status_code == 403
