"""``kairos content import|export`` against a real Redis and Redis Cluster, and the dry run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster
from typer.testing import CliRunner, Result

from content_pool.yaml_io import load_dir
from service.cli_content import content_app

DEMO = Path(__file__).resolve().parents[2] / "content_pool" / "demo"
runner = CliRunner()


def said(result: Result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def prefix() -> str:
    return f"kt{uuid.uuid4().hex[:10]}"


def test_import_without_redis_is_a_validating_dry_run(prefix: str) -> None:
    result = runner.invoke(content_app, ["import", str(DEMO)], env={"KAIROS_REDIS_URL": ""})
    assert result.exit_code == 0, result.output
    assert f"{len(load_dir(DEMO))} items valid" in said(result)
    assert "nothing written" in said(result)


def test_export_without_redis_refuses() -> None:
    result = runner.invoke(content_app, ["export", "/tmp/unused"], env={"KAIROS_REDIS_URL": ""})
    assert result.exit_code == 2 and "No store" in said(result)


def test_import_reports_every_bad_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "hero.yaml").write_text(
        "items:\n"
        "  - {id: a, title: A, slot: hero, channel: web, language: de, template: '{{ nope }}'}\n"
        "  - {id: b, title: B, slot: hero, channel: fax, language: de, template: x}\n"
    )
    result = runner.invoke(content_app, ["import", str(tmp_path)], env={"KAIROS_REDIS_URL": ""})
    assert result.exit_code == 1
    assert "hero.yaml: items.1.channel" in said(result)
    # template checks run once the fields are valid
    (tmp_path / "hero.yaml").write_text(
        "id: a\ntitle: A\nslot: hero\nchannel: web\nlanguage: de\ntemplate: '{{ nope }}'\n"
    )
    result = runner.invoke(content_app, ["import", str(tmp_path)], env={"KAIROS_REDIS_URL": ""})
    assert result.exit_code == 1 and "a.template: line 1" in said(result)


def test_import_checks_categories_against_the_taxonomy(tmp_path: Path) -> None:
    (tmp_path / "hero.yaml").write_text(
        "items:\n"
        "  - {id: a, title: A, slot: hero, channel: web, language: de, template: x,\n"
        "     targeting: {categories: [hiking, wandern]}}\n"
        "  - {id: b, title: B, slot: hero, channel: web, language: de, template: x,\n"
        "     targeting: {audience: 'affinity(\"fishing\") > 0.3'}}\n"
    )
    result = runner.invoke(content_app, ["import", str(tmp_path)], env={"KAIROS_REDIS_URL": ""})
    assert result.exit_code == 1
    assert "a.targeting.categories.1: unknown category 'wandern'" in said(result)
    assert "b.targeting.audience: unknown topic 'fishing' in affinity()" in said(result)
    # a taxonomy of the shop's own (KAIROS_TAXONOMY_FILE) is what the check reads
    taxonomy = tmp_path.parent / f"{tmp_path.name}-taxonomy.yml"
    taxonomy.write_text(
        "categories:\n"
        "  - id: wandern\n    labels: {de: Wandern, en: Hiking}\n"
        "    descriptions: {de: Wandern., en: Hiking.}\n    synonyms: {de: [wandern], en: [hike]}\n"
        "  - id: hiking\n    labels: {de: Bergwandern, en: Mountain hiking}\n"
        "    descriptions: {de: Berge., en: Mountains.}\n    synonyms: {de: [berg], en: [hiking]}\n"
        "  - id: fishing\n    labels: {de: Angeln, en: Fishing}\n"
        "    descriptions: {de: Angeln., en: Fishing.}\n"
        "    synonyms: {de: [angeln], en: [fishing]}\n"
    )
    env = {"KAIROS_REDIS_URL": "", "KAIROS_TAXONOMY_FILE": str(taxonomy)}
    result = runner.invoke(content_app, ["import", str(tmp_path)], env=env)
    assert result.exit_code == 0, result.output


@pytest.fixture(params=["redis", "redis-cluster"])
def target(request: pytest.FixtureRequest, prefix: str) -> Iterator[list[str]]:
    """CLI options that point at a real Redis or Redis Cluster; the keys are removed after."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        client: redis.Redis | RedisCluster = redis.Redis.from_url(url)
        options = ["--redis-url", url, "--no-cluster"]
    else:
        url = request.getfixturevalue("redis_cluster_url")
        client = RedisCluster.from_url(url)
        options = ["--redis-url", url, "--cluster"]
    yield options
    for key in list(client.scan_iter(match=f"{prefix}:*")):
        client.delete(key)
    client.close()


def test_import_export_round_trip(target: list[str], prefix: str, tmp_path: Path) -> None:
    env = {"KAIROS_REDIS_PREFIX": prefix}
    first = runner.invoke(content_app, ["import", str(DEMO), *target], env=env)
    assert first.exit_code == 0, first.output
    count = len(load_dir(DEMO))
    assert f"{count} created, 0 updated, 0 unchanged" in said(first)

    again = runner.invoke(content_app, ["import", str(DEMO), *target], env=env)
    assert f"0 created, 0 updated, {count} unchanged" in said(again)

    exported = runner.invoke(content_app, ["export", str(tmp_path / "out"), *target], env=env)
    assert exported.exit_code == 0, exported.output
    assert load_dir(tmp_path / "out") == load_dir(DEMO)
