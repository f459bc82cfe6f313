"""Several websites (``KAIROS_SITES``): each public key works from its own pages only, and
proves identities with its own secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.service.apps import SERVER, SITE, SITE_KEY, identity_token, make_settings

SHOP, OUTLET = "https://shop.example", "https://outlet.example"
OUTLET_KEY, OUTLET_SECRET = "site-outlet-key-000", "the-outlets-identity-secret-000"
OUTLET_SITE = {"X-API-Key": OUTLET_KEY}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = make_settings(site_origins=[SHOP], sites=[
        {"key": OUTLET_KEY, "origins": [OUTLET], "identity_secret": OUTLET_SECRET}])
    with TestClient(create_app(settings)) as c:
        yield c


def _situation(client: TestClient, headers: dict[str, str]) -> object:
    return client.post("/v1/situation", json={"context": {}}, headers=headers)


def test_a_site_key_works_from_its_own_origin_only(client: TestClient) -> None:
    for key, own, other in ((SITE, SHOP, OUTLET), (OUTLET_SITE, OUTLET, SHOP)):
        granted = client.post("/v1/situation", json={"context": {}}, headers={**key, "Origin": own})
        assert granted.status_code == 200
        assert granted.headers["access-control-allow-origin"] == own
        refused = client.post("/v1/situation", json={"context": {}},
                              headers={**key, "Origin": other})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert f"not for pages of {other}" in refused.json()["detail"]
        assert not any(h.startswith("access-control-") for h in refused.headers)
    # a server calls without an Origin; a preflight (no key) is granted for every site's pages
    assert client.post("/v1/situation", json={"context": {}}, headers=OUTLET_SITE).status_code \
        == 200
    for origin in (SHOP, OUTLET):
        preflight = client.options("/v1/decide", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key,x-kairos-identity"})
        assert preflight.headers["access-control-allow-origin"] == origin
    unknown = client.options("/v1/decide", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in unknown.headers


def test_each_site_proves_identities_with_its_own_secret(client: TestClient) -> None:
    body = {"session_id": "s-1", "profile_id": "outlet-7", "slots": ["hero"]}
    outlet_token = identity_token("outlet-7", secret=OUTLET_SECRET)
    own = client.post("/v1/decide", json=body,
                      headers={**OUTLET_SITE, "X-Kairos-Identity": outlet_token})
    assert own.status_code == 200, own.text
    other = client.post("/v1/decide", json=body,
                        headers={"X-API-Key": SITE_KEY, "X-Kairos-Identity": outlet_token})
    assert other.status_code == 401 and "(forged)" in other.json()["detail"]
    server = client.post("/v1/decide", json=body,
                         headers={**SERVER, "X-Kairos-Identity": outlet_token})
    assert server.status_code == 200
