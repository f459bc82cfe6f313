"""``kairos import profiles|events`` against a real Redis and Redis Cluster, and the dry run."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis
from redis.cluster import RedisCluster
from typer.testing import CliRunner, Result

from service.cli_import import import_app

runner = CliRunner()
CRM = (
    "customer_id,email,first_name,birthday,consent_email\n"
    "C1,a@example.com,Ada,1985-12-10,yes\n"
    "C2,b@example.com,Bob,not-a-date,no\n"
    ",c@example.com,Cy,,\n"
    "C3,d@example.com,Di,,ja\n"
)


def said(result: Result) -> str:
    return " ".join(result.output.split())


@pytest.fixture
def prefix() -> str:
    return f"kt{uuid.uuid4().hex[:10]}"


@pytest.fixture
def crm(tmp_path: Path) -> Path:
    path = tmp_path / "crm.csv"
    path.write_text(CRM, encoding="utf-8")
    return path


def test_without_redis_the_import_is_a_validating_dry_run(crm: Path, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    result = runner.invoke(import_app, ["profiles", str(crm), "--rejects", str(rejects)],
                           env={"KAIROS_REDIS_URL": ""})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "dry run" in said(result) and "nothing written" in said(result)
    with rejects.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["line"], r["id"]) for r in rows] == [("3", "C2"), ("4", "")]
    assert "birthday 'not-a-date'" in rows[0]["reason"]
    assert "line 3: birthday 'not-a-date' is not a date" in said(result)
    assert "Ignored columns: email" in said(result)


def test_an_unknown_suffix_needs_format(tmp_path: Path) -> None:
    path = tmp_path / "crm.xlsx"
    path.write_bytes(b"x")
    result = runner.invoke(import_app, ["profiles", str(path)], env={"KAIROS_REDIS_URL": ""})
    assert result.exit_code == 2 and "--format" in said(result)


@pytest.fixture(params=["redis", "redis-cluster"])
def target(request: pytest.FixtureRequest, prefix: str
           ) -> Iterator[tuple[list[str], redis.Redis | RedisCluster]]:  # fmt: skip
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        client: redis.Redis | RedisCluster = redis.Redis.from_url(url)
        options = ["--redis-url", url, "--no-cluster"]
    else:
        url = request.getfixturevalue("redis_cluster_url")
        client = RedisCluster.from_url(url)
        options = ["--redis-url", url, "--cluster"]
    yield options, client
    for key in list(client.scan_iter(match=f"{prefix}:*")):
        client.delete(key)
    client.close()


def test_import_writes_once_to_redis(
    target: tuple[list[str], redis.Redis | RedisCluster], prefix: str, crm: Path, tmp_path: Path
) -> None:
    options, client = target
    env = {"KAIROS_REDIS_PREFIX": prefix}
    first = runner.invoke(import_app, ["profiles", str(crm), *options], env=env)
    assert first.exit_code == 0, first.output
    assert "4 read, 2 valid, 2 created, 0 updated, 0 skipped, 2 rejected" in said(first)
    doc = orjson.loads(client.hget(f"{prefix}:{{p:C1}}:profile", "doc") or b"{}")
    assert doc["k"]["fn"] == "Ada"
    again = runner.invoke(import_app, ["profiles", str(crm), *options], env=env)
    assert "4 read, 2 valid, 0 created, 0 updated, 2 skipped, 2 rejected" in said(again)
    orders = tmp_path / "orders.jsonl"
    orders.write_bytes(orjson.dumps({"order_id": "O1", "customer_id": "C1", "total": "49,90",
                                     "ordered_at": "2026-01-02T10:00:00Z",
                                     "items": [{"sku": "B1", "category": "boots"}]}) + b"\n")
    events = runner.invoke(import_app, ["events", str(orders), *options], env=env)
    assert events.exit_code == 0, events.output
    doc = orjson.loads(client.hget(f"{prefix}:{{p:C1}}:profile", "doc") or b"{}")
    assert doc["r"]["o"] == 1 and doc["r"]["m"] == pytest.approx(49.9)
