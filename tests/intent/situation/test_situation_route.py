"""POST /v1/situation on a small app that provides the reader."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from intent.situation import SituationReader
from service.deps import get_situation_reader
from service.routes.situation import router


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()
    reader = SituationReader(internal_hosts=["shop.example"])
    app.dependency_overrides[get_situation_reader] = lambda: reader
    app.include_router(router)
    with TestClient(app) as test_client:
        yield test_client


def test_returns_the_situation(client: TestClient) -> None:
    response = client.post(
        "/v1/situation",
        json={
            "context": {
                "user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                "referrer": "https://mail.google.com/",
                "url": "https://shop.example/?utm_campaign=order_confirmation",
                "timezone": "Asia/Tokyo",
                "timestamp": "2026-11-22T12:00:00Z",
            }
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["device"]["is_bot"] is True
    assert body["source"]["medium"] == "email" and body["source"]["source"] == "Gmail"
    assert (body["daypart"], body["weekday"]) == ("evening", "sunday")  # 21:00 in Tokyo
    assert "mail_transactional" in [e["name"] for e in body["evidence"]]


def test_empty_body_context_is_a_direct_visit(client: TestClient) -> None:
    response = client.post("/v1/situation", json={})
    assert response.status_code == 200
    assert response.json()["source"]["medium"] == "direct"


@pytest.mark.parametrize(
    "context",
    [{"timezone": "Europe/Atlantis"}, {"country": "Deutschland"}, {"page_views_in_session": -3}],
)
def test_malformed_context_is_422(client: TestClient, context: dict[str, Any]) -> None:
    response = client.post("/v1/situation", json={"context": context})
    assert response.status_code == 422


def test_a_100kb_user_agent_is_read(client: TestClient) -> None:
    response = client.post("/v1/situation", json={"context": {"user_agent": "A" * 100_000}})
    assert response.status_code == 200
    assert response.json()["device"]["type"] == "bot"


REDUCED_ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("hints", "kind"),
    [
        ({}, "tablet"),
        ({"sec_ch_ua_mobile": "?1", "sec_ch_ua_platform": '"Android"'}, "mobile"),
        ({"sec_ch_ua_mobile": True}, "mobile"),
        ({"sec_ch_ua_model": '"SM-S918B"'}, "mobile"),
        ({"sec_ch_ua_mobile": "?0", "sec_ch_ua_model": '"SM-X710"'}, "tablet"),
    ],
)
def test_client_hints_in_the_context_change_the_device_type(
    client: TestClient, hints: dict[str, Any], kind: str
) -> None:
    context = {"user_agent": REDUCED_ANDROID, **hints}
    response = client.post("/v1/situation", json={"context": context})
    assert response.status_code == 200
    assert response.json()["device"]["type"] == kind


def test_a_malformed_mobile_hint_is_422(client: TestClient) -> None:
    context = {"user_agent": REDUCED_ANDROID, "sec_ch_ua_mobile": "maybe"}
    assert client.post("/v1/situation", json={"context": context}).status_code == 422


def test_a_german_landing_page_without_accept_language_is_german(client: TestClient) -> None:
    response = client.post(
        "/v1/situation", json={"context": {"url": "https://shop.example/de/zelte/leichtes-zelt"}}
    )
    assert response.status_code == 200
    assert response.json()["language"] == {"code": "de", "source": "url_path"}
