"""Event time through the API: an order reported eight months late updates the person's order
history and sends nothing (no action, no webhook), while a fresh one is confirmed through the
webhook as before; a timestamp days in the future is refused with the reason."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, SERVER, AppClient, drop_prefix

APP_SETTINGS = {"intent_encoder": "hashing", "worker_in_app": True, "worker_poll_seconds": 0.05,
                "webhook_secret": "hook-secret", "lifecycle_sweep_minutes": 0}


class Receiver(ThreadingHTTPServer):
    """A real HTTP endpoint on 127.0.0.1 that keeps every action POSTed to it."""

    def __init__(self) -> None:
        self.actions: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.actions.append(orjson.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["memory", "redis"])
def client(request: pytest.FixtureRequest, app_client: AppClient,
           receiver: Receiver) -> Iterator[TestClient]:  # fmt: skip
    if request.param == "memory":
        yield app_client(webhook_url=receiver.url)
        return
    url, prefix = request.getfixturevalue("redis_url"), f"kt{uuid.uuid4().hex[:10]}"
    yield app_client(webhook_url=receiver.url, redis_url=url, redis_prefix=prefix)
    drop_prefix(url, prefix)


def order(who: str, at: datetime) -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "type": "purchase", "profile_id": who,
            "timestamp": at.isoformat(),
            "properties": {"order_id": uuid.uuid4().hex, "value": 120, "currency": "EUR",
                           "items": [{"product_id": "tent-1", "category": "tents"}]}}


def test_an_order_eight_months_old_is_recorded_and_sends_nothing(
    client: TestClient, receiver: Receiver,
) -> None:
    late, fresh = f"late-{uuid.uuid4().hex[:8]}", f"fresh-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    answer = client.post("/v1/events", headers=SERVER, json={"events": [
        order(late, now - timedelta(days=243)), order(fresh, now)]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["complete"] is True
    deadline = time.monotonic() + 15
    while not any(a["profile_id"] == fresh for a in receiver.actions):
        assert time.monotonic() < deadline, "the fresh order was never confirmed"
        time.sleep(0.05)
    assert [a["step"] for a in receiver.actions if a["profile_id"] == fresh] == ["confirmation"]
    time.sleep(0.3)  # a few more worker rounds: nothing may come for the late order
    assert [a for a in receiver.actions if a["profile_id"] == late] == []

    profile = client.get(f"/v1/profiles/{late}", headers=ADMIN).json()
    assert profile["rfm"]["orders"] == 1 and profile["rfm"]["revenue"] == 120
    actions = client.get(f"/v1/profiles/{late}/actions", headers=ADMIN).json()
    assert actions["pending"] == []
    assert "sent" not in {a["status"] for a in actions["past"]}
    skipped = {a["step"]: a["note"] for a in actions["past"] if a["status"] == "skipped"}
    assert set(skipped) == {"confirmation", "cross_sell", "review_request", "we_miss_you"}
    assert skipped["confirmation"] == ("the moment has passed: purchase was 243 days ago "
                                       "(confirmation goes out at most 1h late)")


def test_an_event_dated_days_ahead_is_refused_and_the_rest_of_the_batch_kept(
    client: TestClient,
) -> None:
    who = f"ahead-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    ahead = order(who, now + timedelta(days=3, minutes=1))
    answer = client.post("/v1/events", headers=SERVER, json={"events": [order(who, now), ahead]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["complete"] is False and len(body["accepted"]) == 1
    (rejected,) = body["rejected"]
    assert rejected["index"] == 1 and rejected["event_id"] == ahead["event_id"]
    assert "is 3 days in the future (at most 5 minutes of clock skew" in rejected["reason"]
    alone = client.post("/v1/events", headers=SERVER, json=ahead)
    assert alone.status_code == 422
    assert alone.headers["content-type"].startswith("application/problem+json")
    assert "3 days in the future" in alone.json()["detail"]
    profile = client.get(f"/v1/profiles/{who}", headers=ADMIN).json()
    assert profile["rfm"]["orders"] == 1
