"""The service's foundation: health, readiness, request ids, metrics, keys and problem+json."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import ValidationError

from personalization.errors import ProfileNotFound
from service.app import ADMIN, SITE, create_app
from service.settings import Settings
from tests.service.apps import ADMIN_KEY, SITE_KEY, make_settings


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
        ("/probe/only-admin", None, 401),
        ("/probe/only-admin", SITE_KEY, 403),
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
    with pytest.raises(ValidationError, match="KAIROS_SITE_KEY"):
        Settings(environment="production", _env_file=None)  # type: ignore[call-arg]


def test_development_generates_keys_when_unset() -> None:
    app = create_app(Settings(log_json=False, content_dir=None, _env_file=None))  # type: ignore[call-arg]
    keys = app.state.api_keys
    assert keys.site != keys.admin and len(keys.admin) > 20


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_rate_limit_per_key_answers_429_with_retry_after(store: str, redis_url: str) -> None:
    extra: dict[str, object] = {"rate_limit_per_minute": 5}
    if store == "redis":
        extra.update(redis_url=redis_url, redis_prefix=f"rl{uuid.uuid4().hex[:8]}")
    app = create_app(make_settings(**extra))
    probe = APIRouter()

    @probe.get("/probe")
    async def endpoint() -> dict[str, str]:
        return {"ok": "yes"}

    app.include_router(probe, dependencies=SITE)
    with TestClient(app) as c:
        for _ in range(3):  # a minute boundary inside the loop starts a new window: try again
            minute = int(time.time() // 60)
            codes = [c.get("/probe", headers={"X-API-Key": SITE_KEY}).status_code
                     for _ in range(7)]
            other = c.get("/probe", headers={"X-API-Key": ADMIN_KEY})
            refused = c.get("/probe", headers={"X-API-Key": SITE_KEY})
            if int(time.time() // 60) == minute:
                break
            time.sleep(1)
    assert codes == [200] * 5 + [429] * 2
    assert other.status_code == 200
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["content-type"] == "application/problem+json"
