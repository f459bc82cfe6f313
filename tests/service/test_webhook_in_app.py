"""The embedded store (no Redis): the app's in-app worker delivers due steps to a real webhook,
retries a failing receiver, parks what the receiver refuses, and replays it from the admin API."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import orjson
from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, SERVER, AppClient
from tests.webhook_receiver import Receiver, running_receiver

APP_SETTINGS = {"intent_encoder": "hashing", "worker_poll_seconds": 0.05,
                "webhook_secret": "a-webhook-secret", "webhook_max_tries": 3,
                "webhook_backoff_seconds": 0.05}


def purchase(client: TestClient, who: str) -> None:
    events = [
        {"event_id": f"{who}-1", "type": "consent_update", "profile_id": who,
         "properties": {"consents": {"email": True}}},
        {"event_id": f"{who}-2", "type": "purchase", "profile_id": who,
         "properties": {"order_id": f"o-{who}", "value": 120, "currency": "EUR",
                        "items": [{"product_id": "boot-1", "category": "hiking"}]}},
    ]
    answer = client.post("/v1/events", json={"events": events}, headers=SERVER)
    assert answer.status_code == 200, answer.text


def eventually(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_in_app_worker_retries_parks_and_replays(app_client: AppClient) -> None:
    receiver = Receiver(fail_first=1, hopeless=lambda a: str(a["profile_id"]).startswith("no-"),
                        hopeless_status=422)
    with running_receiver(receiver):
        client = app_client(webhook_url=receiver.url)
        ok, refused = f"ok-{uuid.uuid4().hex[:6]}", f"no-{uuid.uuid4().hex[:6]}"
        purchase(client, ok)
        purchase(client, refused)

        def dead_letters() -> list[dict[str, object]]:
            answer = client.get("/v1/actions/dead-letters", headers=ADMIN)
            assert answer.status_code == 200
            found: list[dict[str, object]] = answer.json()["dead_letters"]
            return found

        eventually(lambda: len(receiver.delivered()) >= 1 and len(dead_letters()) >= 1)
        delivered = [r for r in receiver.requests if r.status < 300]
        assert {profile_of(r.body) for r in delivered} == {ok}
        assert [r.attempt for r in receiver.requests if profile_of(r.body) == ok] == [1, 2]
        (dead,) = dead_letters()
        assert (dead["profile_id"], dead["error"], dead["attempts"]) == (refused, "HTTP 422", 1)

        receiver.recovered = True
        answer = client.post("/v1/actions/dead-letters/replay", headers=ADMIN, json={"all": True})
        assert answer.json()["replayed"] == [dead["id"]]
        eventually(lambda: dead["action_id"] in receiver.delivered())
        assert dead_letters() == []


def profile_of(body: bytes) -> str:
    return str(orjson.loads(body)["profile_id"])
