"""What the visitor is after right now chooses the content: through the API, on every backend."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, DEMO_CONTENT, SITE

DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0 Safari/537.36")  # fmt: skip
SHOP = "https://shop.bergfalke.example"

APP_SETTINGS = {"log_level": "WARNING", "holdout_share": 0.0, "decision_seed": 7,
                "content_dir": DEMO_CONTENT}  # fmt: skip


def decide(client: TestClient, context: dict[str, Any], *, session: str | None = None,
           text: str | None = None, slots: tuple[str, ...] = ("hero",),
           agent: str = DESKTOP) -> Any:  # fmt: skip
    body: dict[str, Any] = {"session_id": session or f"s-{uuid.uuid4().hex[:12]}",
                            "slots": list(slots), "context": {"user_agent": agent, **context}}
    if text is not None:
        body["text"] = text
    response = client.post("/v1/decide", json=body, headers=SITE)
    assert response.status_code == 200, response.text
    return response.json()


def categories_of(client: TestClient, decision: Any, slot: str = "hero") -> list[str]:
    item_id = decision["slots"][slot][0]["item_id"]
    item = client.get(f"/v1/content/{item_id}", headers=ADMIN).json()
    categories: list[str] = item["targeting"]["categories"]
    return categories


def test_a_google_search_chooses_a_hero_on_its_topic(backend_client: TestClient) -> None:
    decision = decide(backend_client, {
        "referrer": "https://www.google.de/search?q=wanderschuhe+damen+wasserdicht",
        "accept_language": "de-DE,de;q=0.9"})  # fmt: skip
    assert list(decision["situation"]["interests"]) == ["hiking"]
    assert categories_of(backend_client, decision) == ["hiking"]
    [hero] = decision["slots"]["hero"]
    assert hero["item_id"].endswith("-de")
    assert hero["reasons"][0].startswith(
        "matches what the visitor is after: searched for 'wanderschuhe damen wasserdicht' -> hiking"
    )


def test_the_landing_path_campaign_and_text_each_name_the_topic(backend_client: TestClient) -> None:
    tents = decide(backend_client, {"url": f"{SHOP}/de/zelte/ultraleicht"})
    assert categories_of(backend_client, tents) == ["camping"]
    assert tents["situation"]["language"] == "de"  # from the path, nothing else said it
    newsletter = f"{SHOP}/?utm_medium=email&utm_campaign=fahrrad-fruehling"
    bikes = decide(backend_client, {"url": newsletter, "accept_language": "de"})
    assert categories_of(backend_client, bikes) == ["cycling"]
    harness = decide(backend_client, {"accept_language": "en"},
                     text="which climbing harness is good for beginners")
    assert categories_of(backend_client, harness) == ["climbing"]
    assert harness["slots"]["hero"][0]["item_id"].endswith("-en")


def test_the_third_page_of_a_visit_knows_what_the_first_was_about(
    backend_client: TestClient,
) -> None:
    session = f"s-{uuid.uuid4().hex[:12]}"
    first = decide(backend_client, {"url": f"{SHOP}/en/running/trail", "accept_language": "en"},
                   session=session)  # fmt: skip
    assert categories_of(backend_client, first) == ["running"]
    decide(backend_client, {"url": f"{SHOP}/en/about-us", "accept_language": "en"},
           session=session)  # fmt: skip
    third = decide(backend_client, {"url": f"{SHOP}/en/cart", "accept_language": "en"},
                   session=session)  # fmt: skip
    assert "running" in third["situation"]["interests"]
    assert categories_of(backend_client, third) == ["running"]
    assert "earlier in this visit" in third["slots"]["hero"][0]["reasons"][0]
    other = decide(backend_client, {"url": f"{SHOP}/en/cart", "accept_language": "en"})
    assert other["situation"]["interests"] == {}  # another visit knows nothing of it


def test_a_crawler_gets_the_defaults_and_is_not_counted(backend_client: TestClient) -> None:
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    decision = decide(backend_client, {"url": f"{SHOP}/de/zelte"}, agent=googlebot)
    [hero] = decision["slots"]["hero"]
    assert hero["item_id"] == "hero-default-de"
    assert hero["reasons"] == ["crawler: the slot's default"]
    assert decision["in_control_group"] is False
    feedback = backend_client.post("/v1/feedback", headers=SITE, json={
        "decision_id": decision["decision_id"], "item_id": hero["item_id"], "event": "click"})
    assert feedback.status_code == 404  # never logged: a crawler's click teaches nothing


def test_an_unknown_slot_is_a_clear_422(backend_client: TestClient) -> None:
    response = backend_client.post("/v1/decide", headers=SITE, json={
        "session_id": "s-typo", "slots": ["hero", "heroo"]})  # fmt: skip
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "'heroo'" in problem["detail"] and "hero" in problem["detail"]


def test_decide_and_situation_read_the_same_browser_the_same_way(
    backend_client: TestClient,
) -> None:
    headers = {**SITE, "User-Agent": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
               "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
               "Sec-CH-UA-Mobile": "?0", "Sec-CH-UA-Platform": '"Android"',
               "Sec-CH-UA-Model": '"SM-X200"'}  # fmt: skip
    context = {"url": f"{SHOP}/de/klettern/seile"}
    situation = backend_client.post("/v1/situation", headers=headers,
                                    json={"context": context}).json()  # fmt: skip
    decision = backend_client.post("/v1/decide", headers=headers, json={
        "session_id": "s-same", "slots": ["hero"], "context": context}).json()  # fmt: skip
    assert situation["device"]["type"] == decision["situation"]["device"] == "tablet"
    assert situation["language"]["code"] == decision["situation"]["language"] == "de"
    assert [i["category"] for i in situation["interests"]] == list(
        decision["situation"]["interests"]) == ["climbing"]
