"""``kairos identity sign``: a token to try the signed identity with, accepted by the service."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.service.apps import IDENTITY_SECRET, SITE, AppClient

runner = CliRunner()


def test_a_signed_token_is_printed_alone_on_stdout_and_opens_the_person(
    app_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAIROS_IDENTITY_SECRET", IDENTITY_SECRET)
    result = runner.invoke(app, ["identity", "sign", "ada@example.org", "--ttl", "120"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("v1.") and "\n" not in token  # progress went to stderr
    client = app_client()
    answer = client.post("/v1/decide", headers={**SITE, "X-Kairos-Identity": token}, json={
        "session_id": "s-cli", "profile_id": "ada@example.org", "slots": ["hero"]})
    assert answer.status_code == 200, answer.text


def test_signing_needs_the_secret_and_a_ttl_within_the_limit(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAIROS_IDENTITY_SECRET", raising=False)
    monkeypatch.chdir("/")  # no .env file
    missing = runner.invoke(app, ["identity", "sign", "ada@example.org"])
    assert missing.exit_code == 2 and "KAIROS_IDENTITY_SECRET" in missing.output
    monkeypatch.setenv("KAIROS_IDENTITY_SECRET", IDENTITY_SECRET)
    too_long = runner.invoke(app, ["identity", "sign", "ada@example.org", "--ttl", "999999"])
    assert too_long.exit_code == 2 and "at most 86400" in too_long.output
