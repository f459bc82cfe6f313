"""Authorization matrix: every route × {no key, site key, server key, admin key}, and every
public route that names a person × {site key + someone else's id, server key}.

Walks the real app's OpenAPI paths, so a route added later is covered without editing this file.
A site key must never read or change profiles, content, statistics or configuration, nor name a
person it has no signed identity for; the server key opens the public routes only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.service.apps import ADMIN_KEY, SERVER_KEY, SITE_KEY, as_person, make_settings

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
        server = client.request(method, url, headers={"X-API-Key": SERVER_KEY})
        admin = client.request(method, url, headers={"X-API-Key": ADMIN_KEY})
        if kind == "admin-only":
            assert site.status_code == 403, f"{method} {path} with the site key: {site.status_code}"
            assert server.status_code == 403, f"{method} {path} with the server key"
            assert "needs the admin key" in server.json()["detail"]
        else:
            assert site.status_code not in (401, 403), f"{method} {path} refused the site key"
            assert server.status_code not in (401, 403), f"{method} {path} refused the server key"
        assert admin.status_code not in (401, 403), f"{method} {path} refused the admin key"
        for response in (no_key, site, server, admin):
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


SOMEONE = "cust-4004"
# A valid request of each public route that can name a person, naming SOMEONE.
NAMING: dict[tuple[str, str], dict[str, object]] = {
    ("POST", "/v1/decide"): {"json": {"session_id": "s-m", "profile_id": SOMEONE,
                                      "slots": ["hero"]}},
    ("GET", "/v1/blocks/{slot}"): {"params": {"profile_id": SOMEONE}},
    ("POST", "/v1/chat"): {"json": {"session_id": "s-m", "profile_id": SOMEONE,
                                    "message": "Hallo"}},
    ("POST", "/v1/events"): {"json": {"event_id": "m1", "type": "page_view",
                                      "profile_id": SOMEONE}},
}


def _names_a_person(spec: dict[str, object], operation: dict[str, object]) -> bool:
    """Whether an operation takes a profile_id (a parameter, or a property of its body)."""
    if any(p.get("name") == "profile_id" for p in operation.get("parameters", [])):  # type: ignore[attr-defined]
        return True
    text = str(operation.get("requestBody", ""))
    refs = [part.split("'")[0] for part in text.split("#/components/schemas/")[1:]]
    schemas = spec["components"]["schemas"]  # type: ignore[index]
    return "profile_id" in text or any("profile_id" in schemas[r]["properties"] for r in refs)


def test_every_public_route_that_names_a_person_is_in_the_matrix(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    naming = {(method.upper(), path) for path, operations in spec["paths"].items()
              for method, operation in operations.items()
              if not PUBLIC.match(path) and not ADMIN_ONLY.match(path)
              and _names_a_person(spec, operation)}
    naming.add(("POST", "/v1/events"))  # its body is documented as free-form
    assert naming == set(NAMING)


@pytest.mark.parametrize(("method", "path"), sorted(NAMING))
def test_site_key_with_someone_elses_id_is_refused_server_key_is_trusted(
    client: TestClient, method: str, path: str
) -> None:
    url = _concrete(path).replace("x-1", "hero")
    request = NAMING[(method, path)]
    site = client.request(method, url, headers={"X-API-Key": SITE_KEY}, **request)  # type: ignore[arg-type]
    other = client.request(method, url, headers=as_person("ada@example.org"), **request)  # type: ignore[arg-type]
    server = client.request(method, url, headers={"X-API-Key": SERVER_KEY}, **request)  # type: ignore[arg-type]
    for refused in (site, other):
        assert refused.headers["content-type"] == "application/problem+json"
        if path == "/v1/events":  # refused by rule, like any invalid event
            assert refused.status_code == 422
            assert "not allowed with the site key" in refused.json()["errors"][0]["reason"]
        else:
            assert refused.status_code == 403, f"{method} {path}: {refused.status_code}"
            assert "X-Kairos-Identity" in refused.json()["detail"]
    assert server.status_code in (200, 204), f"{method} {path}: {server.text[:200]}"
