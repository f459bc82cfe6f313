"""Nothing acknowledged is lost on restart: the real ``kairos serve`` with no Redis URL, in a
fresh working directory, keeps content, profiles, intent examples, bandit statistics and its
development keys across a SIGTERM, a SIGKILL of its process group (its redis-server lives on
and is taken over) and a SIGKILL of both (the append-only file is replayed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serve_process import (
    KairosProcess,
    alive,
    clean_environ,
    redis_pid,
    seed_intent_model,
)


@pytest.fixture
def kairos(tmp_path: Path) -> Iterator[KairosProcess]:
    seed_intent_model(tmp_path)
    server = KairosProcess(tmp_path, clean_environ())
    yield server
    server.stop_quietly()
    pid = redis_pid(tmp_path)
    if pid is not None and alive(pid):  # a failed test must not leave a server behind
        os.kill(pid, signal.SIGKILL)


def write_round(admin: httpx.Client, site: httpx.Client, n: int) -> None:
    """One round of what a shop writes: a content item, two people's events, an intent
    example, and a decision with an impression and a click."""
    created = admin.post("/v1/content", json={
        "id": f"restart-hero-{n}", "title": f"Runde {n}", "slot": "hero", "channel": "web",
        "language": "de", "template": "<h1>{{ item.title }}</h1>", "status": "live",
        "targeting": {"phases": ["explore"], "moments": ["know"], "categories": ["hiking"]},
    })  # fmt: skip
    assert created.status_code == 201, created.text
    for person in (f"p{n}-a", f"p{n}-b"):
        events = [{"event_id": f"{person}-{i}", "type": "page_view", "profile_id": person,
                   "properties": {"url": f"https://shop.example/p/{i}"}} for i in range(5)]
        stored = site.post("/v1/events", json={"events": events})
        assert stored.status_code == 200 and len(stored.json()["accepted"]) == 5, stored.text
    example = admin.post("/v1/intents/examples", json={"examples": [
        {"text": f"wo bleibt meine bestellung nummer {n}", "intent": "track_order",
         "lang": "de"}]})  # fmt: skip
    assert example.status_code == 201, example.text
    decision = site.post("/v1/decide", json={"session_id": f"s-{n}", "profile_id": f"p{n}-a",
                                             "slots": ["hero"]}).json()  # fmt: skip
    item = decision["slots"]["hero"][0]["item_id"]
    for event in ("impression", "click"):
        answer = site.post("/v1/feedback", json={"decision_id": decision["decision_id"],
                                                 "item_id": item, "event": event})  # fmt: skip
        assert answer.status_code == 202 and not answer.json()["duplicate"], answer.text


def snapshot(admin: httpx.Client, rounds: int) -> dict[str, Any]:
    """What the API shows of everything written so far."""
    items = admin.get("/v1/content").json()
    events = {}
    for n in range(rounds):
        for person in (f"p{n}-a", f"p{n}-b"):
            exported = admin.get(f"/v1/profiles/{person}/export")
            assert exported.status_code == 200, exported.text
            events[person] = sorted(e["event_id"] for e in exported.json()["events"])
    report = admin.get("/v1/reports/content").json()
    return {
        "content": sorted(i["id"] for i in items),
        "events": events,
        "served": report["total"]["treatment"]["served"],
        "clicks": report["total"]["treatment"]["clicks"],
    }


def user_examples(admin: httpx.Client) -> int:
    """Add one intent example; how many are kept with it (an acknowledged total)."""
    answer = admin.post("/v1/intents/examples", json={"examples": [
        {"text": f"paket verfolgen {time.monotonic_ns()}", "intent": "track_order", "lang": "de"}]})
    assert answer.status_code == 201, answer.text
    total: int = answer.json()["user_examples"]
    return total


def test_nothing_acknowledged_is_lost_across_stops_and_crashes(kairos: KairosProcess) -> None:
    kairos.start()
    log = kairos.log.read_text()
    assert "var/secrets.json" in log and "redis-server started" in log
    assert '"worker":"in-app-' in log  # automation reacts without a separate `kairos worker`
    keys = kairos.secrets()
    assert set(keys) >= {"site_key", "admin_key", "session_secret", "link_secret"}
    var = kairos.workdir / "var"
    assert (var / "secrets.json").stat().st_mode & 0o777 == 0o600
    assert var.stat().st_mode & 0o777 == 0o700

    with kairos.client() as admin, kairos.client("server") as site:
        assert admin.get("/v1/links/token", params={"profile_id": "p"}).status_code != 503
        write_round(admin, site, 0)
        before, examples = snapshot(admin, 1), user_examples(admin)
    assert before["clicks"] == 1 and len(before["events"]["p0-a"]) == 5

    # 1. SIGTERM: a clean stop; the redis-server is shut down with it.
    first_redis = redis_pid(kairos.workdir)
    assert kairos.terminate() == 0
    assert first_redis is not None and not alive(first_redis)
    kairos.start()
    assert kairos.secrets() == keys
    with kairos.client() as admin, kairos.client("server") as site:
        assert snapshot(admin, 1) == before
        assert user_examples(admin) == examples + 1
        write_round(admin, site, 1)
        before, examples = snapshot(admin, 2), user_examples(admin)
    # The other commands, run in the same directory, use the same redis-server.
    exported = subprocess.run(
        [sys.executable, "-m", "service.cli", "content", "export", "exported"],
        cwd=kairos.workdir, env=kairos.env, capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    assert "restart-hero-1" in "".join(
        p.read_text() for p in (kairos.workdir / "exported").rglob("*") if p.is_file())

    # 2. SIGKILL of kairos and its workers: the redis-server lives on and is taken over.
    survivor = redis_pid(kairos.workdir)
    kairos.kill_group()
    assert survivor is not None and alive(survivor)
    kairos.start()
    assert "taken over" in kairos.log.read_text()
    assert redis_pid(kairos.workdir) == survivor
    with kairos.client() as admin, kairos.client("server") as site:
        assert snapshot(admin, 2) == before
        assert user_examples(admin) == examples + 1
        write_round(admin, site, 2)
        before, examples = snapshot(admin, 3), user_examples(admin)

    # 3. SIGKILL of both, more than a second after the last answer (appendfsync everysec):
    # the next start replays the append-only file.
    time.sleep(1.5)
    kairos.kill_group()
    os.kill(survivor, signal.SIGKILL)
    kairos.start()
    assert "redis-server started" in kairos.log.read_text()
    assert kairos.secrets() == keys
    with kairos.client() as admin:
        assert snapshot(admin, 3) == before
        examples = user_examples(admin)
    assert before["clicks"] == 3 and len(before["content"]) >= 3

    # 4. The redis-server dies under a running kairos: it is started again from its files.
    crashed = redis_pid(kairos.workdir)
    assert crashed is not None
    os.kill(crashed, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while redis_pid(kairos.workdir) in (crashed, None):
        assert time.monotonic() < deadline, kairos.log.read_text()[-2000:]
        time.sleep(0.2)
    with kairos.client() as admin:
        assert snapshot(admin, 3) == before  # the app's connections find it again
        assert user_examples(admin) == examples + 1
    restarted = redis_pid(kairos.workdir)
    assert restarted is not None and kairos.terminate() == 0 and not alive(restarted)
    assert "restarting it" in kairos.log.read_text()


def test_without_redis_server_the_embedded_store_says_nothing_survives(tmp_path: Path) -> None:
    seed_intent_model(tmp_path)
    bare_path = str(Path(sys.executable).parent)  # python, but no redis-server
    server = KairosProcess(tmp_path, clean_environ(PATH=bare_path))
    try:
        server.start()
        with server.client() as admin:
            assert admin.get("/v1/content").status_code == 200
    finally:
        server.stop_quietly()
    log = server.log.read_text()
    assert "NOTHING SURVIVES A RESTART" in log and '"store":"MemoryStore"' in log
    assert not (tmp_path / "var" / "redis").exists()
