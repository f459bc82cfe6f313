"""The service's foundation: health, readiness, request ids, metrics, keys and problem+json."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from personalization.errors import ProfileNotFound
from service.app import ADMIN, SITE, create_app
from service.settings import Settings
from tests.service.apps import ADMIN_KEY, SERVER, SERVER_KEY, SITE_KEY, make_settings


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app(make_settings(max_body_bytes=2048))
    probe = APIRouter(prefix="/probe")

    @probe.get("/public")
    async def public() -> dict[str, str]:
        return {"ok": "public"}

    @probe.get("/admin")
    async def admin() -> dict[str, str]:
        return {"ok": "admin"}

    @probe.get("/missing")
    async def missing() -> dict[str, str]:
        raise ProfileNotFound("No profile 'x'; create it by sending an event.")

    @probe.post("/echo")
    async def echo(body: dict[str, int]) -> dict[str, int]:
        return body

    app.include_router(probe, dependencies=SITE, include_in_schema=False)
    admin_router = APIRouter(prefix="/probe")
    admin_router.add_api_route("/only-admin", admin, methods=["GET"])
    app.include_router(admin_router, dependencies=ADMIN)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_health_and_readiness_with_embedded_store(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["store"] == "ok"


def test_readyz_is_503_problem_when_redis_is_unreachable() -> None:
    app = create_app(make_settings(redis_url="redis://127.0.0.1:1/0", redis_timeout_seconds=0.2))
    with TestClient(app) as c:
        response = c.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "store" in response.json()["detail"]


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    mine = uuid.uuid4().hex
    assert client.get("/healthz", headers={"X-Request-ID": mine}).headers["x-request-id"] == mine
    hostile = client.get("/healthz", headers={"X-Request-ID": "a b\tc" * 40})
    assert hostile.headers["x-request-id"] != "a b\tc" * 40


def test_metrics_have_a_latency_histogram_per_route(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/probe/public", headers={"X-API-Key": SITE_KEY})
    text = client.get("/metrics").text
    series = ('kairos_request_duration_seconds_count'
              '{method="GET",route="/probe/public",status="200"}')
    assert series in text


@pytest.mark.parametrize(
    ("path", "key", "status"),
    [
        ("/probe/public", None, 401),
        ("/probe/public", "wrong", 403),
        ("/probe/public", SITE_KEY, 200),
        ("/probe/public", ADMIN_KEY, 200),
        ("/probe/public", SERVER_KEY, 200),
        ("/probe/only-admin", None, 401),
        ("/probe/only-admin", SITE_KEY, 403),
        ("/probe/only-admin", SERVER_KEY, 403),
        ("/probe/only-admin", ADMIN_KEY, 200),
    ],
)
def test_api_keys(client: TestClient, path: str, key: str | None, status: int) -> None:
    headers = {"X-API-Key": key} if key else {}
    response = client.get(path, headers=headers)
    assert response.status_code == status
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]


def test_domain_errors_become_problems_with_an_actionable_message(client: TestClient) -> None:
    response = client.get("/probe/missing", headers={"X-API-Key": SITE_KEY})
    assert response.status_code == 404
    body = response.json()
    assert body["title"] == "Profile not found"
    assert "create it by sending an event" in body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]


def test_validation_errors_are_422_problems_naming_the_field(client: TestClient) -> None:
    response = client.post("/probe/echo", json={"n": "not a number"},
                           headers={"X-API-Key": SITE_KEY})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "n"
    broken = client.post("/probe/echo", content=b"{not json", headers={
        "X-API-Key": SITE_KEY, "Content-Type": "application/json"})
    assert broken.status_code == 422


def test_oversized_bodies_are_refused_before_parsing(client: TestClient) -> None:
    response = client.post("/probe/echo", content=b"{" + b" " * 5000 + b"}",
                           headers={"X-API-Key": SITE_KEY, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "Kairos"


def test_production_requires_keys() -> None:
    with pytest.raises(ValidationError, match="KAIROS_SITE_KEY") as refused:
        Settings(environment="production", _env_file=None)  # type: ignore[call-arg]
    for name in ("KAIROS_SERVER_KEY", "KAIROS_ADMIN_KEY", "KAIROS_IDENTITY_SECRET"):
        assert name in str(refused.value)
    complete = {"site_key": "s" * 20, "server_key": "v" * 20, "admin_key": "a" * 20,
                "session_secret": "x" * 32, "identity_secret": "i" * 32}
    production = Settings(environment="production", _env_file=None, **complete)  # type: ignore[call-arg]
    assert production.allowed_origins == []  # no site may call until its origins are listed
    with pytest.raises(ValidationError, match="must differ"):
        Settings(environment="production", _env_file=None,  # type: ignore[call-arg]
                 **(complete | {"server_key": "s" * 20}))
    with pytest.raises(ValidationError, match="at least 16 bytes"):
        Settings(identity_secret="short", _env_file=None)  # type: ignore[call-arg]


def test_development_generates_keys_when_unset() -> None:
    app = create_app(Settings(log_json=False, content_dir=None, _env_file=None))  # type: ignore[call-arg]
    keys = app.state.api_keys
    assert len({keys.site, keys.server, keys.admin}) == 3 and len(keys.admin) > 20
    assert len(keys.server) > 20


def _limited_app(store: str, redis_url: str, **limits: object) -> FastAPI:
    extra: dict[str, object] = dict(limits)
    if store == "redis":
        extra.update(redis_url=redis_url, redis_prefix=f"rl{uuid.uuid4().hex[:8]}")
    app = create_app(make_settings(**extra))
    probe = APIRouter()

    @probe.get("/probe")
    async def endpoint() -> dict[str, str]:
        return {"ok": "yes"}

    app.include_router(probe, dependencies=SITE)
    return app


def _in_one_minute(attempt: Callable[[], list[int]]) -> list[int]:
    """``attempt()``, again when a minute boundary (a new window) fell inside it."""
    for _ in range(3):
        minute = int(time.time() // 60)
        codes = attempt()
        if int(time.time() // 60) == minute:
            break
        time.sleep(1)
    return codes


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_rate_limit_per_server_key_answers_429_with_retry_after(store: str, redis_url: str) -> None:
    app = _limited_app(store, redis_url, rate_limit_per_minute=5, site_rate_limit_per_minute=0)
    with TestClient(app) as c:
        def attempt() -> list[int]:
            codes = [c.get("/probe", headers=SERVER).status_code for _ in range(7)]
            codes.append(c.get("/probe", headers={"X-API-Key": ADMIN_KEY}).status_code)
            codes.append(c.get("/probe", headers={"X-API-Key": SITE_KEY}).status_code)
            return codes
        codes = _in_one_minute(attempt)
        refused = c.get("/probe", headers=SERVER)
    assert codes == [200] * 5 + [429] * 2 + [200, 200]  # the others keys are counted apart
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["content-type"] == "application/problem+json"


def test_the_site_key_is_limited_per_client_address_by_default(redis_url: str) -> None:
    assert make_settings().site_rate_limit_per_minute == 600  # on unless turned off
    # two clients (addresses) share the app: the in-process counter (Redis's is tested above)
    app = _limited_app("memory", redis_url, site_rate_limit_per_minute=4)
    with TestClient(app, client=("203.0.113.7", 5000)) as one, \
            TestClient(app, client=("198.51.100.9", 5000)) as other:
        def attempt() -> list[int]:
            codes = [one.get("/probe", headers={"X-API-Key": SITE_KEY}).status_code
                     for _ in range(6)]
            codes.append(other.get("/probe", headers={"X-API-Key": SITE_KEY}).status_code)
            codes.extend(one.get("/probe", headers=SERVER).status_code for _ in range(10))
            return codes
        codes = _in_one_minute(attempt)
        refused = one.get("/probe", headers={"X-API-Key": SITE_KEY})
    # one address used up its minute; another address and the server key still pass
    assert codes == [200] * 4 + [429] * 2 + [200] + [200] * 10
    assert refused.status_code == 429 and refused.json()["detail"].startswith("This address")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
