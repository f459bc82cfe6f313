"""A running A/B test owns its slot in /v1/decide: sticky variants, said in the reasons, counted."""

from __future__ import annotations

from collections import Counter

import pytest
from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, DEMO_CONTENT, SITE

BROWSER = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36")
VARIANTS = ("hero-explore-alpine-summer-de", "hero-consider-tent-guide-de")


APP_SETTINGS = {"holdout_share": 0.0, "content_dir": DEMO_CONTENT}


@pytest.fixture
def client(client: TestClient) -> TestClient:
    """The app with an A/B test running on the hero slot."""
    test = {"slot": "hero", "goal": "click", "variants": [
        {"name": "a", "item_id": VARIANTS[0], "share": 0.5},
        {"name": "b", "item_id": VARIANTS[1], "share": 0.5}]}
    assert client.put("/v1/abtests/hero-test", json=test, headers=ADMIN).status_code == 200
    assert client.post("/v1/abtests/hero-test/start", headers=ADMIN).status_code == 200
    return client


def hero(client: TestClient, visitor: str) -> tuple[str, dict[str, object]]:
    answer = client.post("/v1/decide", headers=SITE, json={
        "session_id": f"s-{visitor}", "anonymous_id": visitor, "slots": ["hero", "sidebar"],
        "context": {"user_agent": BROWSER, "accept_language": "de-DE"}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    [item] = body["slots"]["hero"]
    return body["decision_id"], item


def test_each_visitor_keeps_a_variant_and_the_reason_says_so(client: TestClient) -> None:
    seen = Counter()
    for n in range(40):
        _, first = hero(client, f"v{n}")
        _, again = hero(client, f"v{n}")
        assert first["item_id"] == again["item_id"] in VARIANTS
        assert any("A/B test hero-test" in r for r in first["reasons"])  # type: ignore[union-attr]
        seen[first["item_id"]] += 1
    assert set(seen) == set(VARIANTS)  # both variants are shown, roughly by share
    assert min(seen.values()) >= 8


def test_clicks_on_a_variant_count_as_the_test_goal(client: TestClient) -> None:
    clicked = 0
    for n in range(20):
        decision_id, item = hero(client, f"c{n}")
        if item["item_id"] == VARIANTS[1]:
            answer = client.post("/v1/feedback", headers=SITE, json={
                "decision_id": decision_id, "item_id": item["item_id"], "event": "click"})
            assert answer.status_code == 202
            clicked += 1
    results = client.get("/v1/abtests/hero-test/results", headers=ADMIN).json()
    by_name = {v["name"]: v for v in results["variants"]}
    assert by_name["b"]["conversions"] == clicked > 0
    assert by_name["a"]["conversions"] == 0
    assert by_name["a"]["participants"] + by_name["b"]["participants"] == 20


def test_stopping_the_test_hands_the_slot_back_to_the_bandit(client: TestClient) -> None:
    assert client.post("/v1/abtests/hero-test/stop", headers=ADMIN).status_code == 200
    _, item = hero(client, "after")
    assert not any("A/B test" in r for r in item["reasons"])  # type: ignore[union-attr]
