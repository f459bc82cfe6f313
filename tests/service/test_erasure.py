"""Erasure end to end: after DELETE /v1/profiles/{id} no key *or value* in Redis names the person.

The person first leaves traces everywhere Kairos keeps data: events and the profile, decisions and
feedback, a chat conversation, programme steps scheduled and published to the ``actions`` stream.
Then every key of the namespace is read back, whatever its type, on a single Redis and on a
Redis Cluster.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from redis.cluster import RedisCluster

from service.app import create_app
from service.settings import PACKAGE_ROOT
from tests.factories import drop_prefix
from tests.service.apps import ADMIN_KEY, SERVER, SITE_KEY, as_person, make_settings

SITE = {"X-API-Key": SITE_KEY}
BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/130.0.0.0 Safari/537.36")
ADMIN = {"X-API-Key": ADMIN_KEY}


def _values(conn: Any, key: bytes) -> list[bytes]:
    kind = conn.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind == "string":
        return [conn.get(key) or b""]
    if kind == "hash":
        return [b for pair in conn.hgetall(key).items() for b in pair]
    if kind == "set":
        return list(conn.smembers(key))
    if kind == "zset":
        return list(conn.zrange(key, 0, -1))
    if kind == "list":
        return list(conn.lrange(key, 0, -1))
    if kind == "stream":
        return [b for _, fields in conn.xrange(key) for pair in fields.items() for b in pair]
    return []


def mentions(conn: Any, prefix: str, text: str) -> list[str]:
    """Keys of ``prefix`` whose name or any value contains ``text``."""
    needle = text.encode()
    keys = (
        [k for node in conn.get_primaries()
         for k in conn.scan_iter(match=f"{prefix}:*", target_nodes=node)]
        if isinstance(conn, RedisCluster) else list(conn.scan_iter(match=f"{prefix}:*"))
    )  # fmt: skip
    return [k.decode() for k in keys
            if needle in k or any(needle in v for v in _values(conn, k))]


@pytest.fixture(params=["redis", "redis-cluster"])
def app_and_conn(request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, Any, str]]:
    prefix = f"er{uuid.uuid4().hex[:8]}"
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        conn: Any = redis.Redis.from_url(url)
        cluster = False
    else:
        url = request.getfixturevalue("redis_cluster_url")
        conn = RedisCluster.from_url(url)
        cluster = True
    settings = make_settings(redis_url=url, redis_cluster=cluster, redis_prefix=prefix,
                             worker_in_app=True, worker_poll_seconds=0.05, holdout_share=0.0,
                             content_dir=PACKAGE_ROOT / "content_pool" / "demo")
    with TestClient(create_app(settings)) as client:
        yield client, conn, prefix
    drop_prefix(conn, prefix)
    conn.close()


def test_no_key_or_value_names_the_person_after_erasure(
    app_and_conn: tuple[TestClient, Any, str],
) -> None:
    client, conn, prefix = app_and_conn
    who = f"erase-me-{uuid.uuid4().hex[:8]}"
    other = f"keep-me-{uuid.uuid4().hex[:8]}"
    for person in (who, other):
        events = [
            {"event_id": f"{person}-1", "type": "account_created", "profile_id": person},
            {"event_id": f"{person}-2", "type": "consent_update", "profile_id": person,
             "properties": {"consents": {"personalisation": True, "email": True}}},
            {"event_id": f"{person}-3", "type": "purchase", "profile_id": person,
             "properties": {"order_id": f"o-{person}", "value": 120, "currency": "EUR",
                            "items": [{"product_id": "boot-1", "category": "hiking"}]}},
        ]
        answer = client.post("/v1/events", json={"events": events}, headers=SERVER)
        assert answer.status_code == 200, answer.text
    decision = client.post("/v1/decide", headers=as_person(who), json={
        "session_id": "s-1", "profile_id": who, "slots": ["hero", "sidebar"],
        "context": {"url": "https://shop.example/de/", "accept_language": "de-DE",
                    "user_agent": BROWSER}})
    assert decision.status_code == 200, decision.text
    body = decision.json()
    shown = next(item for items in body["slots"].values() for item in items)
    feedback = client.post("/v1/feedback", headers=SITE, json={
        "decision_id": body["decision_id"], "item_id": shown["item_id"], "event": "click"})
    assert feedback.status_code == 202, feedback.text
    chat = client.post("/v1/chat", headers=as_person(who), json={
        "session_id": "s-1", "profile_id": who, "message": "Wo ist meine Bestellung?",
        "channel": "web"})
    assert chat.status_code == 200, chat.text

    deadline = time.monotonic() + 20  # the in-app worker publishes the due confirmation
    while time.monotonic() < deadline:
        found = mentions(conn, prefix, who)
        if any(key.endswith(":actions") and "{p:" not in key for key in found):
            break
        time.sleep(0.1)
    before = mentions(conn, prefix, who)
    assert any(key.endswith(":actions") and "{p:" not in key for key in before), before
    assert any(":profile" in key for key in before)

    assert client.delete(f"/v1/profiles/{who}", headers=ADMIN).status_code == 204

    assert mentions(conn, prefix, who) == []
    assert client.get(f"/v1/profiles/{who}", headers=ADMIN).status_code == 404
    assert client.get(f"/v1/profiles/{other}", headers=ADMIN).status_code == 200
    assert mentions(conn, prefix, other), "erasing one person must not touch another"
