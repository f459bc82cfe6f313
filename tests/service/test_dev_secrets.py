"""Development keys and secrets: made once into var/secrets.json (0600), the environment wins,
production never generates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.dev_secrets import GENERATORS, SecretsFileError, fill_from_var
from service.settings import Settings


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_generated_once_and_kept(tmp_path: Path) -> None:
    first: dict[str, str] = {}
    made = fill_from_var(settings(), tmp_path / "var", first)
    assert made is not None and set(made.generated) == set(GENERATORS)
    path = tmp_path / "var" / "secrets.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert set(first) == {f"KAIROS_{name.upper()}" for name in GENERATORS}
    assert len(first["KAIROS_LINK_SECRET"]) >= 16 and len(set(first.values())) == len(first)
    again: dict[str, str] = {}
    kept = fill_from_var(settings(), tmp_path / "var", again)
    assert kept is not None and kept.generated == () and again == first
    assert Settings(_env_file=None, **{k[7:].lower(): v for k, v in again.items()}).link_secret


def test_the_environment_wins_and_is_not_written(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    made = fill_from_var(settings(site_key="site-mine", admin_key="admin-mine"),
                         tmp_path, environ)  # fmt: skip
    rest = {"server_key", "identity_secret", "session_secret", "link_secret"}
    assert made is not None and set(made.generated) == rest
    assert "KAIROS_SITE_KEY" not in environ and "KAIROS_ADMIN_KEY" not in environ
    assert set(json.loads((tmp_path / "secrets.json").read_text())) == rest


def test_a_name_added_later_is_generated_and_the_others_kept(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text(json.dumps({"site_key": "site-old",
                                                       "admin_key": "admin-old"}))
    (tmp_path / "secrets.json").chmod(0o644)
    environ: dict[str, str] = {}
    made = fill_from_var(settings(), tmp_path, environ)
    assert made is not None and set(made.from_file) == {"site_key", "admin_key"}
    assert environ["KAIROS_SITE_KEY"] == "site-old" and environ["KAIROS_ADMIN_KEY"] == "admin-old"
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_production_never_generates(tmp_path: Path) -> None:
    production = settings(environment="production", site_key="s", admin_key="a",
                          server_key="v", session_secret="x",
                          identity_secret="an-identity-secret-000")  # fmt: skip
    assert fill_from_var(production, tmp_path, {}) is None
    assert not (tmp_path / "secrets.json").exists()


def test_a_damaged_file_is_named_and_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text('{"site_key": ')
    with pytest.raises(SecretsFileError, match="secrets.json is not valid JSON"):
        fill_from_var(settings(), tmp_path, {})
    assert (tmp_path / "secrets.json").read_text() == '{"site_key": '
