"""Link tokens for the mail system: issue, validation, off without a secret."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, INTEGRATION, SITE_KEY, AppClient, make_settings

APP_SETTINGS = INTEGRATION


def test_link_tokens_for_the_mail_system(client: TestClient) -> None:
    response = client.get("/v1/links/token", params={"profile_id": "C-1", "ttl_days": 7},
                          headers=ADMIN)  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == f"kt={body['token']}" and body["profile_id"] == "C-1"
    assert client.get("/v1/links/token", params={"profile_id": "a b"}, headers=ADMIN
                      ).status_code == 422  # fmt: skip
    assert client.get("/v1/links/token", params={"profile_id": "p", "ttl_days": 400},
                      headers=ADMIN).status_code == 422  # fmt: skip
    assert client.get("/v1/links/token", params={"profile_id": "p"},
                      headers={"X-API-Key": SITE_KEY}).status_code == 403  # fmt: skip


def test_without_a_link_secret_tokens_are_off(app_client: AppClient) -> None:
    client = app_client(link_secret=None)
    response = client.get("/v1/links/token", params={"profile_id": "p"}, headers=ADMIN)
    assert response.status_code == 503 and "KAIROS_LINK_SECRET" in response.json()["detail"]


def test_short_link_secrets_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        make_settings(link_secret="short")
