"""The /v1/content API: CRUD with versions, archive, history, preview and validate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service import problems
from service.app import create_app
from service.components import Components, build_components
from service.routes.content import router
from tests.service.apps import ADMIN, make_settings


def build_app() -> FastAPI:
    """The content router alone, on the components the app would build (memory backend)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Components]]:
        components = await build_components(make_settings(intent_encoder=None))
        try:
            yield {"components": components}
        finally:
            await components.aclose()

    app = FastAPI(lifespan=lifespan)
    problems.install(app)
    app.include_router(router)
    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(build_app()) as test_client:
        yield test_client


def item(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "hero-summer-de",
        "title": "Sommer in den Bergen",
        "slot": "hero",
        "channel": "web",
        "language": "de",
        "template": "<h1>{% if first_name %}Hallo {{ first_name }}! {% endif %}{{ item.title }}",
        "targeting": {"phases": ["explore"], "moments": ["know"], "categories": ["hiking"]},
        "status": "live",
    }
    data.update(overrides)
    return data


def test_create_get_and_conflict(client: TestClient) -> None:
    created = client.post("/v1/content", json=item())
    assert created.status_code == 201
    body = created.json()
    assert body["version"] == 1 and body["updated_at"] and body["title"] == "Sommer in den Bergen"
    assert client.get("/v1/content/hero-summer-de").json() == body
    again = client.post("/v1/content", json=item(title="Doppelt"))
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "already exists" in again.json()["detail"]


def test_missing_item_is_404(client: TestClient) -> None:
    response = client.get("/v1/content/nothing-here")
    assert response.status_code == 404
    assert "nothing-here" in response.json()["detail"]
    assert client.get("/v1/content/nothing-here/history").status_code == 404
    assert client.patch("/v1/content/nothing-here", json={"title": "x"}).status_code == 404


def test_template_rejected_with_line_and_reason(client: TestClient) -> None:
    template = "<h1>{{ item.title }}</h1>\n<p>{{ profile.email }}</p>"
    response = client.post("/v1/content", json=item(template=template))
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Template rejected"
    [error] = problem["errors"]
    assert error["field"] == "template" and error["message"].startswith("line 2:")
    assert client.get("/v1/content/hero-summer-de").status_code == 404  # nothing saved


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ config }}",
    ],
)
def test_sandbox_escapes_are_refused_by_the_api(client: TestClient, payload: str) -> None:
    response = client.post("/v1/content", json=item(template=payload))
    assert response.status_code == 422


def test_bad_audience_condition_names_the_position(client: TestClient) -> None:
    targeting = {"audience": 'device.type == "mobile" and'}
    response = client.post("/v1/content", json=item(targeting=targeting))
    assert response.status_code == 422
    assert "position 27" in response.text


def test_edits_make_versions_and_history(client: TestClient) -> None:
    client.post("/v1/content", json=item())
    fields = {k: v for k, v in item(title="Herbst in den Bergen").items() if k != "id"}
    replaced = client.put("/v1/content/hero-summer-de", json=fields)
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    patched = client.patch("/v1/content/hero-summer-de", json={"priority": 80})
    assert patched.json()["version"] == 3 and patched.json()["title"] == "Herbst in den Bergen"
    assert patched.json()["priority"] == 80

    history = client.get("/v1/content/hero-summer-de/history").json()
    assert [(v["version"], v["title"]) for v in history] == [
        (1, "Sommer in den Bergen"),
        (2, "Herbst in den Bergen"),
        (3, "Herbst in den Bergen"),
    ]
    old = client.get("/v1/content/hero-summer-de", params={"version": 1}).json()
    assert old["title"] == "Sommer in den Bergen" and old["priority"] == 50


def test_stale_expected_version_is_409(client: TestClient) -> None:
    client.post("/v1/content", json=item())
    client.patch("/v1/content/hero-summer-de", json={"title": "Neu"})
    stale = client.patch(
        "/v1/content/hero-summer-de", json={"title": "Alt"}, params={"expected_version": 1}
    )
    assert stale.status_code == 409
    assert client.get("/v1/content/hero-summer-de").json()["title"] == "Neu"


def test_patch_that_breaks_a_rule_is_422(client: TestClient) -> None:
    client.post("/v1/content", json=item())
    response = client.patch("/v1/content/hero-summer-de", json={"is_default": True})
    assert response.status_code == 422
    assert "default item must fit everybody" in response.json()["detail"]


def test_archive_then_purge(client: TestClient) -> None:
    client.post("/v1/content", json=item())
    archived = client.delete("/v1/content/hero-summer-de")
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived" and archived.json()["version"] == 2
    live = client.get("/v1/content", params={"status": "live"}).json()
    assert live == []
    purged = client.delete("/v1/content/hero-summer-de/history")
    assert purged.status_code == 204
    assert client.get("/v1/content/hero-summer-de").status_code == 404


def test_writes_update_the_process_pool() -> None:
    with TestClient(build_app()) as client:
        pool = client.app_state["components"].content_pool
        client.post("/v1/content", json=item())
        assert pool.get("hero-summer-de") is not None
        client.delete("/v1/content/hero-summer-de")
        assert pool.get("hero-summer-de") is None


def test_list_filters(client: TestClient) -> None:
    client.post("/v1/content", json=item())
    client.post(
        "/v1/content",
        json=item(id="sidebar-stores-de", slot="sidebar", title="Filialen",
                  targeting={"moments": ["go"]}, tags=["stores"]),
    )  # fmt: skip
    client.post(
        "/v1/content",
        json=item(id="hero-default-de", title="Standard", targeting={}, is_default=True,
                  status="draft"),
    )  # fmt: skip

    def ids(**params: str) -> list[str]:
        response = client.get("/v1/content", params=params)
        assert response.status_code == 200
        return [i["id"] for i in response.json()]

    assert ids() == ["hero-default-de", "hero-summer-de", "sidebar-stores-de"]
    assert ids(slot="hero") == ["hero-default-de", "hero-summer-de"]
    assert ids(status="draft") == ["hero-default-de"]
    # items without a phase restriction serve every phase
    assert ids(phase="explore") == ["hero-default-de", "hero-summer-de", "sidebar-stores-de"]
    assert ids(phase="churn") == ["hero-default-de", "sidebar-stores-de"]
    assert ids(moment="go") == ["hero-default-de", "sidebar-stores-de"]
    assert ids(q="STORES") == ["sidebar-stores-de"]
    assert ids(q="hiking") == ["hero-summer-de"]
    assert client.get("/v1/content", params={"phase": "dreaming"}).status_code == 422


def test_preview_escapes_and_respects_consent(client: TestClient) -> None:
    body = {
        "template": "<p>Hallo {{ first_name }} {{ profile.interests|join(',') }}</p>",
        "channel": "web",
        "context": {
            "first_name": "<script>alert(1)</script>",
            "profile": {"interests": ["hiking"]},
            "consent": True,
        },
    }
    preview = client.post("/v1/content/preview", json=body)
    assert preview.status_code == 200
    assert preview.json() == {
        "output": "<p>Hallo &lt;script&gt;alert(1)&lt;/script&gt; hiking</p>",
        "format": "html",
        "channel": "web",
        "item_id": None,
    }
    body["context"]["consent"] = False  # type: ignore[index]
    assert client.post("/v1/content/preview", json=body).json()["output"] == "<p>Hallo  </p>"


def test_preview_of_a_stored_item_and_of_an_old_version(client: TestClient) -> None:
    client.post("/v1/content", json=item(channel="sms", template="Hi {{ item.title }} & mehr"))
    client.patch("/v1/content/hero-summer-de", json={"title": "Neu"})
    latest = client.post("/v1/content/preview", json={"item_id": "hero-summer-de"}).json()
    assert latest["output"] == "Hi Neu & mehr" and latest["format"] == "text"
    first = client.post("/v1/content/preview", json={"item_id": "hero-summer-de", "version": 1})
    assert first.json()["output"] == "Hi Sommer in den Bergen & mehr"


def test_preview_errors(client: TestClient) -> None:
    bad = client.post(
        "/v1/content/preview", json={"template": "ok\n{{ nope }}", "channel": "email"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["message"].startswith("line 2:")
    neither = client.post("/v1/content/preview", json={"channel": "web"})
    assert neither.status_code == 422
    missing = client.post("/v1/content/preview", json={"item_id": "nothing"})
    assert missing.status_code == 404


def test_validate_reports_every_problem_without_saving(client: TestClient) -> None:
    ok = client.post("/v1/content/validate", json=item())
    assert ok.status_code == 200 and ok.json() == {"valid": True, "errors": []}
    bad = client.post(
        "/v1/content/validate",
        json=item(channel="fax", priority=500, targeting={"audience": "a.__class__"}),
    )
    assert bad.status_code == 200 and bad.json()["valid"] is False
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"channel", "priority", "targeting.audience"}
    broken_template = client.post("/v1/content/validate", json=item(template="{{ x }}"))
    assert broken_template.json()["errors"][0]["field"] == "template"
    assert client.get("/v1/content").json() == []


def test_a_preview_whose_fields_a_content_item_refuses_is_a_422_naming_the_field() -> None:
    # Found by the schema fuzzer: an empty template passed the request model but not the item's.
    with TestClient(create_app(make_settings())) as client:
        answer = client.post("/v1/content/preview", headers=ADMIN,
                             json={"template": "", "channel": "web"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == "template"
