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
