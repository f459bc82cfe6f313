"""Redis goes away for 10 s under load, then comes back; Kairos keeps answering and recovers.

- decisions keep answering from what the worker holds in memory (content pool, model), marked
  ``degraded: true`` and made from the situation only;
- events get ``503`` with ``Retry-After``: nothing is acknowledged that was not stored, so a
  client that retries loses nothing (events are idempotent by id);
- once Redis is back, the same process answers normally again: no restart.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import PACKAGE_ROOT
from tests.redis_servers import RedisProcess
from tests.service.apps import ADMIN_KEY, SERVER, make_settings

ADMIN = {"X-API-Key": ADMIN_KEY}
BROWSER = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
OUTAGE_SECONDS = 10.0


@pytest.fixture
def app(disposable_redis: RedisProcess) -> Iterator[TestClient]:
    settings = make_settings(
        redis_url=disposable_redis.url, redis_prefix=f"ft{uuid.uuid4().hex[:6]}",
        redis_timeout_seconds=0.5, content_dir=PACKAGE_ROOT / "content_pool" / "demo",
        holdout_share=0.0, worker_in_app=False,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def decide(client: TestClient, profile_id: str) -> tuple[int, dict[str, object]]:
    answer = client.post("/v1/decide", headers=SERVER, json={
        "session_id": "s-fault", "profile_id": profile_id, "slots": ["hero", "sidebar"],
        "context": {"user_agent": BROWSER, "accept_language": "de-DE",
                    "referrer": "https://www.google.de/search?q=zelt+test"}})
    return answer.status_code, answer.json()


def event(client: TestClient, event_id: str, profile_id: str) -> tuple[int, dict[str, str]]:
    answer = client.post("/v1/events", headers=SERVER, json={
        "event_id": event_id, "type": "page_view", "profile_id": profile_id,
        "properties": {"url": "https://shop.example/de/zelte"}})
    return answer.status_code, dict(answer.headers)


def test_redis_outage_degrades_decisions_refuses_events_and_recovers(
    app: TestClient, disposable_redis: RedisProcess
) -> None:
    who = "fault-ana"
    consent = {"event_id": "c1", "type": "consent_update", "profile_id": who,
               "properties": {"consents": {"personalisation": True}}}
    assert app.post("/v1/events", headers=SERVER, json=consent).status_code == 200
    status, before = decide(app, who)
    assert status == 200 and before["degraded"] is False and before["personalised"] is True

    # Keep the data across the restart, as a production Redis with persistence would.
    redis.Redis.from_url(disposable_redis.url).save()
    disposable_redis.stop()
    decisions, refused, other = 0, [], []
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < OUTAGE_SECONDS:
        status, body = decide(app, who)
        assert status == 200, body
        assert body["degraded"] is True and body["personalised"] is False
        assert all(body["slots"][slot] for slot in ("hero", "sidebar"))  # type: ignore[index]
        decisions += 1
        status, headers = event(app, f"outage-{n}", who)
        (refused if status == 503 else other).append((status, headers.get("retry-after")))
        n += 1
        time.sleep(0.05)
    assert app.get("/readyz").status_code == 503
    assert decisions >= 20
    assert other == [], f"events answered other than 503 during the outage: {other[:3]}"
    assert all(retry is not None and int(retry) > 0 for _, retry in refused)

    disposable_redis.restart()
    deadline = time.monotonic() + 10
    while app.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "Kairos did not recover after Redis came back"
        time.sleep(0.1)
    status, after = decide(app, who)
    assert status == 200 and after["degraded"] is False and after["personalised"] is True

    # The client retries what was refused: every event is stored exactly once.
    for i in range(n):
        assert event(app, f"outage-{i}", who)[0] == 200
    assert event(app, "outage-0", who)[0] == 200  # a repeat is accepted and applied once
    exported = app.get(f"/v1/profiles/{who}/export", headers=ADMIN).json()
    ids = [e["event_id"] for e in exported["events"]]
    assert sorted(i for i in ids if i.startswith("outage-")) == sorted(
        f"outage-{i}" for i in range(n))
