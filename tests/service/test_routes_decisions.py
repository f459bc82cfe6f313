"""POST /v1/decide, POST /v1/feedback and GET /v1/reports/content through the real app."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, DEMO_CONTENT, SITE, AppClient, drop_prefix

MOBILE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


APP_SETTINGS = {"log_level": "WARNING", "holdout_share": 0.0, "decision_seed": 7,
                "content_dir": DEMO_CONTENT}


def decide(client: TestClient, **body: Any) -> Any:
    payload = {
        "session_id": "s-1",
        "slots": ["hero", "sidebar"],
        "context": {"user_agent": MOBILE_UA, "accept_language": "de-DE"},
        **body,
    }
    response = client.post("/v1/decide", json=payload, headers=SITE)
    assert response.status_code == 200, response.text
    return response.json()


def test_decide_fills_each_slot_from_the_demo_pool(client: TestClient) -> None:
    decision = decide(client)
    assert set(decision["slots"]) == {"hero", "sidebar"}
    for slot, [shown] in decision["slots"].items():
        assert shown["item_id"].startswith(slot) and shown["item_id"].endswith("-de")
        assert shown["html"] and shown["reasons"]
    assert decision["situation"]["device"] == "mobile"
    assert decision["in_control_group"] is False
    assert decision["next_action"] is None


def test_decide_needs_the_site_key_and_valid_input(client: TestClient) -> None:
    body = {"session_id": "s", "slots": ["hero"]}
    assert client.post("/v1/decide", json=body).status_code == 401
    bad = client.post("/v1/decide", json={**body, "context": {"timezone": "Mars/Base"}},
                      headers=SITE)  # fmt: skip
    assert bad.status_code == 422
    assert client.post("/v1/decide", json={**body, "slots": []}, headers=SITE).status_code == 422


def test_feedback_then_report(client: TestClient) -> None:
    decision = decide(client)
    item_id = decision["slots"]["hero"][0]["item_id"]
    body = {"decision_id": decision["decision_id"], "item_id": item_id, "event": "click"}
    first = client.post("/v1/feedback", json=body, headers=SITE)
    assert first.status_code == 202 and first.json()["duplicate"] is False
    assert client.post("/v1/feedback", json=body, headers=SITE).json()["duplicate"] is True

    report = client.get("/v1/reports/content", headers=ADMIN)
    assert report.status_code == 200
    row = next(r for r in report.json()["rows"] if r["key"] == item_id)
    assert row["treatment"]["served"] == 1 and row["treatment"]["clicks"] == 1
    assert 0 < row["treatment"]["ctr_low"] <= 1.0 == row["treatment"]["ctr"]
    by_phase = client.get("/v1/reports/content?group_by=phase_moment", headers=ADMIN).json()
    assert by_phase["rows"][0]["key"] == "unknown|unknown"
    assert client.get("/v1/reports/content", headers=SITE).status_code == 403


def test_feedback_problems(client: TestClient) -> None:
    unknown = {"decision_id": "nope", "item_id": "hero-x", "event": "click"}
    response = client.post("/v1/feedback", json=unknown, headers=SITE)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    decision = decide(client)
    stranger = {"decision_id": decision["decision_id"], "item_id": "hero-x", "event": "click"}
    assert client.post("/v1/feedback", json=stranger, headers=SITE).status_code == 422
    bad_event = {**stranger, "event": "like"}
    assert client.post("/v1/feedback", json=bad_event, headers=SITE).status_code == 422


def test_everybody_in_control_gets_the_defaults(app_client: AppClient) -> None:
    c = app_client(holdout_share=0.5)
    seen = [decide(c, session_id=f"s{n}", anonymous_id=f"a{n}") for n in range(12)]
    control = [d for d in seen if d["in_control_group"]]
    assert control, "with a 50 % holdout some of 12 visitors are in control"
    for d in control:
        assert all(s[0]["item_id"].endswith("default-de") for s in d["slots"].values())


def test_decide_and_feedback_on_redis(redis_url: str, app_client: AppClient) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    try:
        c = app_client(redis_url=redis_url, redis_prefix=prefix)
        decision = decide(c)
        item_id = decision["slots"]["hero"][0]["item_id"]
        body = {"decision_id": decision["decision_id"], "item_id": item_id, "event": "click"}
        assert c.post("/v1/feedback", json=body, headers=SITE).status_code == 202
        report = c.get("/v1/reports/content", headers=ADMIN).json()
        assert report["total"]["treatment"]["clicks"] == 1
    finally:
        drop_prefix(redis_url, prefix)
