"""The intent routes on a small app whose lifespan provides an IntentService (HashingEncoder)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from intent.encoder import HashingEncoder
from intent.service import IntentService
from intent.situation import SituationReader
from service.deps import get_optional_intent_service, get_situation_reader
from service.routes.intents import admin_router, router
from tests.intent.intent_factories import write_small_data


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = IntentService.load_or_train(
            encoder=HashingEncoder(),
            model_dir=tmp_path / "model",
            data_path=write_small_data(tmp_path / "data.yml"),
        )
        app.dependency_overrides[get_optional_intent_service] = lambda: service
        reader = SituationReader()
        app.dependency_overrides[get_situation_reader] = lambda: reader
        yield
        service.close()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    app.include_router(admin_router)
    with TestClient(app) as test_client:
        yield test_client


def test_post_intent_answers_the_contract(client: TestClient) -> None:
    response = client.post("/v1/intent", json={"text": "wo ist mein paket", "lang": "de"})
    assert response.status_code == 200
    body = response.json()
    assert body["intent"]["name"] == "track_order"
    assert body["phase"] == {
        "name": "use",
        "confidence": pytest.approx(body["phase"]["confidence"]),
    }
    assert body["moment"]["name"] == "service"
    assert body["out_of_scope"] is False and body["language"] == "de"
    assert len(body["ranking"]) == 5 and body["reasons"]
    assert body["model_version"]


def test_post_intent_out_of_scope(client: TestClient) -> None:
    body = client.post("/v1/intent", json={"text": "wetter morgen"}).json()
    assert body["out_of_scope"] is True


def test_post_intent_rejects_empty_text(client: TestClient) -> None:
    assert client.post("/v1/intent", json={"text": ""}).status_code == 422


def test_examples_then_train_then_new_version(client: TestClient) -> None:
    before = client.get("/v1/intents").json()
    assert {i["name"] for i in before["intents"]} >= {"track_order", "store_locator"}
    assert "accuracy" in before["metrics"]
    added = client.post(
        "/v1/intents/examples",
        json={
            "examples": [
                {"text": f"gutschein {i} einlösen", "intent": "apply_voucher", "lang": "de"}
                for i in range(5)
            ],
            "intents": [{"name": "apply_voucher", "phase": "purchase", "moment": "buy"}],
        },
    )
    assert added.status_code == 201 and added.json()["added"] == 5
    job = client.post("/v1/intents/train")
    assert job.status_code == 202
    job_id = job.json()["job_id"]
    for _ in range(300):
        state = client.get(f"/v1/intents/train/{job_id}").json()
        if state["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    assert state["state"] == "succeeded"
    after = client.get("/v1/intents").json()
    assert after["model_version"] == state["version"] != before["model_version"]
    assert "apply_voucher" in {i["name"] for i in after["intents"]}
    assert after["latest_job"]["job_id"] == job_id


def test_the_served_app_reads_the_context_as_evidence_and_guards_the_marketer_loop() -> None:
    from service.app import create_app
    from tests.service.apps import ADMIN_KEY, SITE_KEY, make_settings

    with TestClient(create_app(make_settings())) as app_client:
        site = {"X-API-Key": SITE_KEY}
        answer = app_client.post("/v1/intent", headers=site, json={
            "text": "filiale", "lang": "de",
            "context": {"referrer": "https://www.google.de/search?q=filiale+in+der+n%C3%A4he"}})
        assert answer.status_code == 200, answer.text
        assert any("search_place" in reason for reason in answer.json()["reasons"])
        bad = app_client.post("/v1/intent", headers=site,
                              json={"text": "hallo", "context": {"timezone": "Mars/Olympus"}})
        assert bad.status_code == 422
        assert app_client.get("/v1/intents", headers=site).status_code == 403
        assert app_client.get("/v1/intents", headers={"X-API-Key": ADMIN_KEY}).status_code == 200
