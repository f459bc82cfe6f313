"""``GET /v1/blocks/{slot}`` (server-side includes), the User-Agent the snippet leaves to the
server, and the demo page that carries the snippet."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, DEMO_CONTENT, SITE_KEY

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


APP_SETTINGS = {"holdout_share": 0, "intent_encoder": "hashing", "content_dir": DEMO_CONTENT}


@pytest.fixture
def client(client: TestClient) -> TestClient:
    """The app with a notice for newsletter readers."""
    client.post("/v1/content", headers=ADMIN, json={
        "id": "notice-newsletter-de", "title": "Newsletter", "slot": "notice",
        "channel": "web", "language": "de", "status": "live",
        "template": "<p>Danke, {{ situation.source.medium }}-Leser!</p>",
        "targeting": {"audience": 'source.medium == "email"'},
    })  # fmt: skip
    return client


def test_block_is_the_rendered_item_for_the_forwarded_visitor(client: TestClient) -> None:
    response = client.get(
        "/v1/blocks/notice",
        params={"url": "https://shop.example/?utm_medium=email", "lang": "de"},
        headers={"X-API-Key": SITE_KEY, "User-Agent": DESKTOP},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == "<p>Danke, email-Leser!</p>"
    assert response.headers["x-kairos-item"] == "notice-newsletter-de"
    assert response.headers["cache-control"] == "private, no-store"
    assert "User-Agent" in response.headers["vary"]
    feedback = client.post("/v1/feedback", headers={"X-API-Key": SITE_KEY}, json={
        "decision_id": response.headers["x-kairos-decision"],
        "item_id": "notice-newsletter-de", "event": "impression",
    })  # fmt: skip
    assert feedback.status_code == 202


def test_nothing_to_show_is_204_so_the_page_keeps_its_content(client: TestClient) -> None:
    response = client.get("/v1/blocks/notice", params={"lang": "de"},
                          headers={"X-API-Key": SITE_KEY, "User-Agent": DESKTOP})  # fmt: skip
    assert response.status_code == 204
    assert response.content == b""


def test_block_needs_the_site_key(client: TestClient) -> None:
    assert client.get("/v1/blocks/hero").status_code == 401
    assert client.get("/v1/blocks/Not-A-Slot", headers={"X-API-Key": SITE_KEY}).status_code == 422


def test_decide_reads_the_user_agent_from_the_header(client: TestClient) -> None:
    headers = {"X-API-Key": SITE_KEY, "User-Agent": IPHONE}
    body = {"session_id": "s-ua", "slots": ["hero"],
            "context": {"referrer": "https://www.google.de/"}}  # fmt: skip
    read = client.post("/v1/decide", headers=headers, json=body).json()
    assert read["situation"]["device"] == "mobile"
    assert read["situation"]["medium"] == "search"
    stated = {**body, "context": {"user_agent": DESKTOP}}
    assert client.post("/v1/decide", headers=headers, json=stated).json()["situation"][
        "device"] == "desktop"  # fmt: skip
    no_context = client.post("/v1/decide", headers=headers,
                             json={"session_id": "s-ua", "slots": ["hero"]})  # fmt: skip
    assert no_context.json()["situation"]["device"] == "mobile"
    broken = client.post("/v1/decide", headers={**headers, "Content-Type": "application/json"},
                         content=b"{not json")  # fmt: skip
    assert broken.status_code == 422


def test_decide_reads_the_client_hints_with_the_header_user_agent(client: TestClient) -> None:
    reduced = ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/124.0.0.0 Safari/537.36")  # fmt: skip
    headers = {"X-API-Key": SITE_KEY, "User-Agent": reduced}
    body = {"session_id": "s-ch", "slots": ["hero"]}
    plain = client.post("/v1/decide", headers=headers, json=body).json()
    assert plain["situation"]["device"] == "tablet"  # Chrome's reduced agent without "Mobile"
    hinted = client.post("/v1/decide", json=body, headers={
        **headers, "Sec-CH-UA-Mobile": "?1", "Sec-CH-UA-Platform": '"Android"'})  # fmt: skip
    assert hinted.json()["situation"]["device"] == "mobile"


def test_demo_page_carries_the_snippet_and_the_site_key(client: TestClient) -> None:
    german = client.get("/demo")
    assert german.status_code == 200
    assert '<html lang="de">' in german.text
    assert f'data-kairos-key="{SITE_KEY}"' in german.text
    assert 'src="/static/kairos.js"' in german.text
    for slot in ("notice", "hero", "banner", "product_reco", "sidebar"):
        assert f'data-kairos-slot="{slot}"' in german.text
    assert "Warum sehe ich das?" in german.text
    english = client.get("/demo", params={"lang": "en"})
    assert "Why am I seeing this?" in english.text and '<html lang="en">' in english.text
    elsewhere = client.get("/demo", params={"endpoint": "https://evil.example"})
    assert "data-kairos-endpoint" not in elsewhere.text  # the key goes to loopback only
    local = client.get("/demo", params={"endpoint": "http://127.0.0.1:9"})
    assert 'data-kairos-endpoint="http://127.0.0.1:9"' in local.text
    script = client.get("/static/kairos.js")
    assert script.status_code == 200 and "data-kairos-slot" in script.text
