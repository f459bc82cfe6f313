"""Authorization matrix: every route × {no key, site key, admin key}.

Walks the real app's OpenAPI paths, so a route added later is covered without editing this file.
A site key must never read or change profiles, content, statistics or configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.service.apps import ADMIN_KEY, SITE_KEY, make_settings

# Open without a key: probes, docs, the snippet, the demo page and the console's own login.
PUBLIC = re.compile(r"^/(healthz|readyz|metrics|version|docs.*|openapi\.json|redoc|static/.*|demo.*"
                    r"|console.*)$")
# Whatever touches a person's data, the content pool, statistics or configuration is admin-only.
ADMIN_ONLY = re.compile(r"^/v1/(profiles|content|reports|segments|abtests|imports|links|programmes"
                        r"|intents|taxonomy|actions).*")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(make_settings()), raise_server_exceptions=False) as c:
        yield c


def _routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return sorted((method.upper(), path) for path, operations in paths.items()
                  for method in operations)  # fmt: skip


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x-1", path)


def test_the_matrix_covers_the_core_routes(client: TestClient) -> None:
    paths = {path for _, path in _routes(client)}
    assert {"/v1/decide", "/v1/feedback", "/v1/chat", "/v1/events", "/v1/intent",
            "/v1/situation", "/v1/profiles/{profile_id}", "/v1/content", "/v1/blocks/{slot}",
            "/v1/reports/content", "/v1/intents/train"} <= paths
    assert len(paths) >= 30


@pytest.mark.parametrize("kind", ["site", "admin-only"])
def test_matrix_no_key_site_key_admin_key(client: TestClient, kind: str) -> None:
    checked = []
    for method, path in _routes(client):
        if PUBLIC.match(path) or (ADMIN_ONLY.match(path) is not None) != (kind == "admin-only"):
            continue
        url = _concrete(path)
        no_key = client.request(method, url)
        assert no_key.status_code == 401, f"{method} {path} without key: {no_key.status_code}"
        site = client.request(method, url, headers={"X-API-Key": SITE_KEY})
        admin = client.request(method, url, headers={"X-API-Key": ADMIN_KEY})
        if kind == "admin-only":
            assert site.status_code == 403, f"{method} {path} with the site key: {site.status_code}"
        else:
            assert site.status_code not in (401, 403), f"{method} {path} refused the site key"
        assert admin.status_code not in (401, 403), f"{method} {path} refused the admin key"
        for response in (no_key, site, admin):
            assert response.status_code < 500, f"{method} {path}: {response.status_code}"
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json", (
                    f"{method} {path} answered {response.status_code} without problem+json")
        checked.append(path)
    assert len(checked) >= (5 if kind == "site" else 20)


def test_a_wrong_key_is_refused_everywhere(client: TestClient) -> None:
    for method, path in _routes(client):
        if not PUBLIC.match(path):
            answer = client.request(method, _concrete(path), headers={"X-API-Key": "guess"})
            assert answer.status_code == 403, f"{method} {path}: {answer.status_code}"
