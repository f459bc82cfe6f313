"""Webhook dead letters for admins: listed with the reason, replayed by id or all, counted in
/metrics; bad replay requests get a problem a person can act on; the CLI needs Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from personalization.automation.redis_deliveries import RedisDeliveries
from personalization.automation.redis_scheduler import RedisScheduler
from personalization.store.redis_store import RedisStore
from service.cli import app as cli_app
from tests.personalization.automation.test_scheduler import make_record
from tests.service.apps import ADMIN, SITE, AppClient, drop_prefix

APP_SETTINGS = {"intent_encoder": "hashing", "worker_in_app": False}


async def park(redis_url: str, prefix: str, *profile_ids: str) -> list[str]:
    """Publish an action per person and let the receiver refuse each: their action ids."""
    client = aioredis.Redis.from_url(redis_url)
    scheduler = RedisScheduler(RedisStore(client, prefix=prefix))
    queue = RedisDeliveries(client, scheduler.keys)
    await queue.open()
    now = datetime.now(UTC)
    await scheduler.schedule([make_record(p, now) for p in profile_ids])
    await scheduler.publish(await scheduler.claim(now, 100), now)
    taken = await queue.take("worker", 100, now)
    for delivery in taken:
        await queue.failed(delivery, "HTTP 410", now, final=True)
    await client.aclose()
    return [d.action_id for d in taken]


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"kt{uuid.uuid4().hex[:10]}"
    yield name
    drop_prefix(redis_url, name)


@pytest.fixture
def client(app_client: AppClient, redis_url: str, prefix: str) -> TestClient:
    return app_client(redis_url=redis_url, redis_prefix=prefix)


def metric(client: TestClient, state: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'kairos_webhook_deliveries{{state="{state}"}}'):
            return float(line.split()[-1])
    raise AssertionError(f"no deliveries metric for {state}")


def test_dead_letters_are_listed_with_the_reason_and_replayed(
    client: TestClient, redis_url: str, prefix: str
) -> None:
    action_ids = asyncio.run(park(redis_url, prefix, "ana", "ben", "cleo"))
    assert client.get("/v1/actions/dead-letters", headers=SITE).status_code == 403
    answer = client.get("/v1/actions/dead-letters", headers=ADMIN)
    assert answer.status_code == 200
    dead = answer.json()["dead_letters"]
    assert [d["action_id"] for d in dead] == action_ids
    assert sorted((d["profile_id"], d["error"], d["attempts"]) for d in dead) == [
        ("ana", "HTTP 410", 1), ("ben", "HTTP 410", 1), ("cleo", "HTTP 410", 1)]
    assert dead[0]["action"]["action_id"] == action_ids[0]
    assert metric(client, "dead") == 3 and metric(client, "retrying") == 0

    one = client.post("/v1/actions/dead-letters/replay", headers=ADMIN,
                      json={"ids": [dead[0]["id"], "1-0"]})
    assert one.status_code == 200
    assert one.json() == {"replayed": [dead[0]["id"]], "not_found": ["1-0"]}
    rest = client.post("/v1/actions/dead-letters/replay", headers=ADMIN, json={"all": True})
    assert rest.json() == {"replayed": [dead[1]["id"], dead[2]["id"]], "not_found": []}
    assert client.get("/v1/actions/dead-letters", headers=ADMIN).json() == {"dead_letters": []}
    assert metric(client, "dead") == 0 and metric(client, "retrying") == 3


@pytest.mark.parametrize("body", [{}, {"ids": ["a"], "all": True}, {"all": True, "ids": ["1-0"]},
                                  {"ids": ["not-an-id"]}, {"all": False}])
def test_a_replay_request_names_ids_or_all(client: TestClient, body: dict[str, object]) -> None:
    answer = client.post("/v1/actions/dead-letters/replay", headers=ADMIN, json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "ids" in answer.text


def test_the_cli_lists_and_replays_dead_letters_in_redis(redis_url: str, prefix: str) -> None:
    action_ids = asyncio.run(park(redis_url, prefix, "ana", "ben"))
    env = {"KAIROS_REDIS_URL": redis_url, "KAIROS_REDIS_PREFIX": prefix}
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["actions", "dead-letters"], env=env)
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.stdout.splitlines() if line.startswith("{")]
    assert [line for line in lines if any(a in line for a in action_ids)] == lines
    assert len(lines) == 2
    missing = runner.invoke(cli_app, ["actions", "replay", "--id", "1-0"], env=env)
    assert missing.exit_code == 1
    neither = runner.invoke(cli_app, ["actions", "replay"], env=env)
    assert neither.exit_code == 2
    replayed = runner.invoke(cli_app, ["actions", "replay", "--all"], env=env)
    assert replayed.exit_code == 0
    again = runner.invoke(cli_app, ["actions", "dead-letters"], env=env)
    assert [line for line in again.stdout.splitlines() if line.startswith("{")] == []


def test_the_cli_without_redis_says_where_the_dead_letters_are() -> None:
    result = CliRunner().invoke(cli_app, ["actions", "dead-letters"],
                                env={"KAIROS_REDIS_URL": None})
    assert result.exit_code == 2
    assert "/v1/actions/dead-letters" in result.output


def test_erasing_a_person_forgets_their_dead_letters(
    client: TestClient, redis_url: str, prefix: str
) -> None:
    asyncio.run(park(redis_url, prefix, "gone", "stays"))
    assert client.delete("/v1/profiles/gone", headers=ADMIN).status_code in (200, 204)
    dead = client.get("/v1/actions/dead-letters", headers=ADMIN).json()["dead_letters"]
    assert [d["profile_id"] for d in dead] == ["stays"]
