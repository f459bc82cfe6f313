"""The console pages for A/B tests, segments, programmes and profiles, through HTTP: each page,
its empty state, the form round trip with its errors shown, and what the API sees afterwards;
the HTML error pages and the offline API docs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.service.apps import ADMIN, ADMIN_KEY, DEMO_CONTENT, SERVER, drop_prefix, make_settings
from tests.service.reacting import react

MODEL_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "intent-models-hashing"
BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")  # fmt: skip

APP_SETTINGS = {"holdout_share": 0, "session_secret": "console-pages-secret",
                "intent_encoder": "hashing", "intent_model_dir": MODEL_CACHE,
                "content_dir": DEMO_CONTENT, "definitions_refresh_seconds": 0}  # fmt: skip


@pytest.fixture(params=["memory", "redis"])
def store_client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A fresh app on the in-process store, or on a real Redis under a prefix of its own."""
    overrides: dict[str, Any] = {}
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        overrides = {"redis_url": url, "redis_prefix": f"kc{uuid.uuid4().hex[:10]}"}
    with TestClient(create_app(make_settings(**APP_SETTINGS, **overrides))) as client:
        yield client
    if overrides:
        drop_prefix(overrides["redis_url"], overrides["redis_prefix"])


def _log_in(client: TestClient, page: str = "/console/content") -> str:
    """Log in and return the session's CSRF token."""
    assert client.post("/console/login", data={"key": ADMIN_KEY},
                       follow_redirects=False).status_code == 303  # fmt: skip
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text)
    assert match
    return match.group(1)


def _send(client: TestClient, who: str, *events: dict[str, Any]) -> None:
    batch = [{"event_id": uuid.uuid4().hex, "profile_id": who, **e} for e in events]
    answer = client.post("/v1/events", json={"events": batch}, headers=SERVER)
    assert answer.status_code == 200, answer.text
    react(client)  # with Redis, `kairos worker` runs the automation on what was stored


def _ab_form(csrf: str, **fields: str) -> dict[str, str]:
    base = {"csrf_token": csrf, "id": "hero-spring", "slot": "hero", "goal": "click",
            "stop_rule": "sequential", "description": "Alpine summer against the default",
            "variant_0_name": "control", "variant_0_item": "hero-default-de",
            "variant_0_share": "50", "variant_1_name": "alpine",
            "variant_1_item": "hero-explore-alpine-summer-de", "variant_1_share": "50",
            "start": "on"}  # fmt: skip
    return base | fields


# -- A/B tests ---------------------------------------------------------------------------------


def test_abtest_created_watched_and_stopped(client: TestClient) -> None:
    csrf = _log_in(client)
    empty = client.get("/console/abtests")
    assert empty.status_code == 200
    assert "No A/B test yet" in empty.text and 'href="/console/abtests/new"' in empty.text

    form = client.get("/console/abtests/new")
    assert form.status_code == 200
    assert '<option >hero</option>' in form.text.replace("<option selected>", "<option >")
    assert 'value="hero-explore-alpine-summer-de"' in form.text

    # Shares that do not add up: refused on the form, with what was typed kept.
    wrong = client.post("/console/abtests", data=_ab_form(csrf, variant_1_share="60"))
    assert wrong.status_code == 422
    assert "variant shares must add up to 100 %" in wrong.text
    assert 'value="Alpine summer against the default"' in wrong.text
    assert client.get("/v1/abtests", headers=ADMIN).json() == []

    created = client.post("/console/abtests", data=_ab_form(csrf), follow_redirects=False)
    assert created.status_code == 303
    assert created.headers["location"] == "/console/abtests/hero-spring"
    assert client.get("/v1/abtests/hero-spring", headers=ADMIN).json()["status"] == "running"

    # A visitor takes part: the page counts them and gives the sequential test's verdict.
    decided = client.post("/v1/decide", headers=SERVER, json={
        "session_id": "s-ab", "profile_id": "ab-visitor", "slots": ["hero"],
        "context": {"url": "https://shop.example/de/", "accept_language": "de-DE",
                    "user_agent": BROWSER}})  # fmt: skip
    assert decided.status_code == 200, decided.text
    watched = client.get("/console/abtests/hero-spring")
    assert watched.status_code == 200
    assert "running: no significant difference yet" in watched.text
    assert "sequential mSPRT" in watched.text
    participants = re.findall(r'<tr data-variant="[^"]+">(?:.|\n)*?</tr>', watched.text)
    counts = [int(re.findall(r'<td class="num">(\d+)</td>', row)[0]) for row in participants]
    assert sum(counts) == 1
    assert 'hx-trigger="every 10s"' in watched.text

    listed = client.get("/console/abtests")
    assert 'data-test="hero-spring"' in listed.text and "running" in listed.text

    # A second test on the same slot is kept as a draft, and the page says why it did not start.
    second = client.post("/console/abtests", data=_ab_form(csrf, id="hero-second"))
    assert second.status_code == 409 and "already runs on slot" in second.text
    assert client.get("/v1/abtests/hero-second", headers=ADMIN).json()["status"] == "draft"

    assert client.post("/console/abtests/hero-spring/stop").status_code == 403  # no CSRF token
    stopped = client.post("/console/abtests/hero-spring/stop", data={"csrf_token": csrf})
    assert stopped.status_code == 200 and "stopped in the console" in stopped.text
    assert client.get("/v1/abtests/hero-spring", headers=ADMIN).json()["status"] == "stopped"
    deleted = client.post("/console/abtests/hero-second/delete", data={"csrf_token": csrf})
    assert "hero-second</code> deleted" in deleted.text
    assert client.get("/console/abtests/hero-second").status_code == 404


# -- segments ----------------------------------------------------------------------------------


def test_segment_built_with_live_size_and_inline_errors(store_client: TestClient) -> None:
    client = store_client
    csrf = _log_in(client)
    assert "No segment yet" in client.get("/console/segments").text
    _send(client, "seg-buyer", {"type": "purchase", "properties": {
        "order_id": "o-1", "value": 80, "currency": "EUR",
        "items": [{"product_id": "boot-1", "category": "hiking"}]}})  # fmt: skip
    _send(client, "seg-browser", {"type": "page_view", "properties": {"url": "https://x.example/"}})

    broken = client.post("/console/segments/check", data={"condition": "profile.orders >= "},
                         headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert broken.status_code == 200
    assert 'role="alert"' in broken.text and "at character 19" in broken.text
    assert "<mark" in broken.text
    unknown = client.post("/console/segments/check", headers={"X-CSRF-Token": csrf},
                          data={"condition": 'affinity("knitting") > 0.2'})  # fmt: skip
    assert "unknown topic &#39;knitting&#39;" in unknown.text

    live = client.post("/console/segments/check", headers={"X-CSRF-Token": csrf},
                       data={"condition": "profile.orders >= 1"})  # fmt: skip
    assert re.search(r"Matches <strong>1</strong> of 2 profiles \(all evaluated\)", live.text)

    # A save with a broken condition shows the error on the form and stores nothing.
    refused = client.post("/console/segments", data={
        "csrf_token": csrf, "name": "buyers", "condition": "profile.orders >> 1"})
    assert refused.status_code == 422
    assert "<mark" in refused.text and "profile.orders &gt;&gt; 1" in refused.text
    assert client.get("/v1/segments", headers=ADMIN).json() == []

    saved = client.post("/console/segments", data={
        "csrf_token": csrf, "name": "buyers", "description": "Bought at least once",
        "condition": "profile.orders >= 1"}, follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303
    listed = client.get("/console/segments")
    assert 'data-segment="buyers"' in listed.text and "Bought at least once" in listed.text
    size = client.get("/console/segments/buyers/size")
    assert re.search(r'<span class="size">1</span> <span class="muted">of 2</span>', size.text)

    # Editing keeps the name; a bad edit leaves the stored condition as it was.
    edit = client.get("/console/segments/buyers")
    assert 'name="original" value="buyers"' in edit.text and "readonly" in edit.text
    bad = client.post("/console/segments", data={
        "csrf_token": csrf, "original": "buyers", "condition": 'profile.lifecycle == "x'})
    assert bad.status_code == 422 and "unterminated string" in bad.text
    assert client.get("/v1/segments/buyers", headers=ADMIN).json()["condition"] == (
        "profile.orders >= 1")
    duplicate = client.post("/console/segments", data={
        "csrf_token": csrf, "name": "buyers", "condition": "profile.orders >= 2"})
    assert duplicate.status_code == 422 and "exists already" in duplicate.text

    gone = client.post("/console/segments/buyers/delete", data={"csrf_token": csrf})
    assert "buyers</code> deleted" in gone.text
    assert client.get("/v1/segments/buyers", headers=ADMIN).status_code == 404


# -- programmes ---------------------------------------------------------------------------------


def test_programmes_read_switched_and_edited(client: TestClient) -> None:
    csrf = _log_in(client)
    shown = client.get("/console/programmes")
    assert shown.status_code == 200
    assert 'data-programme="welcome"' in shown.text and "Welcome series" in shown.text
    assert "event account_created, newsletter_signup" in shown.text
    assert "after 1h" in shown.text  # the cart reminder's delay

    switched = client.post("/console/programmes/welcome/enabled",
                           data={"csrf_token": csrf, "enabled": "false"})  # fmt: skip
    assert "welcome</code> switched off" in switched.text
    programmes = client.get("/v1/programmes", headers=ADMIN).json()["programmes"]
    assert {p["id"]: p["enabled"] for p in programmes}["welcome"] is False
    assert {p["id"]: p["enabled"] for p in programmes}["cart_abandonment"] is True

    text = client.get("/v1/programmes", headers={**ADMIN, "Accept": "application/yaml"}).text
    broken = text.replace("delay: 1h", "delay: 1 hour", 1)
    refused = client.post("/console/programmes", data={"csrf_token": csrf, "yaml": broken})
    assert refused.status_code == 422
    assert "<code>programmes.1(cart_abandonment).action.delay</code>" in refused.text
    assert "delay: 1 hour" in refused.text  # the text as typed, to fix it
    assert client.get("/v1/programmes", headers={**ADMIN, "Accept": "application/yaml"}).text == (
        text)

    renamed = text.replace("name: Welcome series", "name: Hello series", 1)
    saved = client.post("/console/programmes", data={"csrf_token": csrf, "yaml": renamed})
    assert saved.status_code == 200 and "Programmes saved" in saved.text
    assert "Hello series" in saved.text
    assert client.post("/console/programmes/nope/enabled",
                       data={"csrf_token": csrf, "enabled": "true"}).status_code == 404


def test_programmes_empty_state(client: TestClient) -> None:
    csrf = _log_in(client)
    saved = client.post("/console/programmes", data={"csrf_token": csrf, "yaml": "programmes: []"})
    assert saved.status_code == 200
    assert "No programme yet" in saved.text


# -- profiles -----------------------------------------------------------------------------------


def test_profile_found_read_exported_and_erased(store_client: TestClient) -> None:
    client = store_client
    csrf = _log_in(client)
    empty = client.get("/console/profiles")
    assert "No profiles stored yet" in empty.text

    who = f"ana-{uuid.uuid4().hex[:6]}"
    _send(client, who, {"type": "consent_update",
                        "properties": {"consents": {"email": True, "personalisation": True}}})
    _send(client, who, {"type": "product_view",
                        "properties": {"product_id": "tent-2", "category": "camping"}})
    _send(client, who, {"type": "add_to_cart",
                        "properties": {"product_id": "p1", "price": 20, "category": "camping"}})
    _send(client, who, {"type": "add_to_cart",
                        "properties": {"product_id": "p2", "price": 20, "category": "camping"}})

    listed = client.get("/console/profiles")
    assert f'data-profile="{who}"' in listed.text
    missing = client.get("/console/profiles", params={"q": "nobody-here"})
    assert missing.status_code == 404 and "No profile with the id" in missing.text
    found = client.get("/console/profiles", params={"q": who}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/console/profiles/{who}"

    shown = client.get(f"/console/profiles/{who}").text
    events = re.findall(r'<tr data-event="([a-z_]+)">', shown)
    assert events == ["add_to_cart", "add_to_cart", "product_view", "consent_update"]
    assert re.search(r'<tr data-topic="camping">.*?<td class="num">(0\.\d\d|1\.00)</td>', shown)
    assert re.search(r'data-purpose="email">(?:(?!</tr>).)*granted', shown, re.S)
    assert re.search(r'data-purpose="sms">(?:(?!</tr>).)*not asked', shown, re.S)
    assert 'data-status="pending"' in shown and "cart_abandonment · reminder" in shown
    assert 'data-status="cancelled"' in shown and "restarted by add_to_cart" in shown

    export = client.get(f"/console/profiles/{who}/export")
    assert export.status_code == 200
    assert export.headers["content-disposition"] == (
        f'attachment; filename="kairos-profile-{who}.json"')
    assert export.json()["profile"]["profile_id"] == who
    assert len(export.json()["events"]) == 4

    confirm = client.get(f"/console/profiles/{who}/erase")
    assert "Erase this person?" in confirm.text and "4 events" in confirm.text
    kept = client.post(f"/console/profiles/{who}/erase",
                       data={"csrf_token": csrf, "confirm": "someone-else"})  # fmt: skip
    assert kept.status_code == 422 and "nothing was erased" in kept.text
    assert client.get(f"/v1/profiles/{who}", headers=ADMIN).status_code == 200
    assert client.post(f"/console/profiles/{who}/erase",
                       data={"confirm": who}).status_code == 403  # no CSRF token
    erased = client.post(f"/console/profiles/{who}/erase",
                         data={"csrf_token": csrf, "confirm": who})  # fmt: skip
    assert erased.status_code == 200 and "was erased" in erased.text
    assert client.get(f"/v1/profiles/{who}", headers=ADMIN).status_code == 404
    assert client.get(f"/v1/profiles/{who}/actions", headers=ADMIN).json()["pending"] == []
    assert client.get(f"/console/profiles/{who}").status_code == 404


# -- error pages and docs -----------------------------------------------------------------------


def test_console_errors_are_pages_and_the_api_keeps_problem_json(client: TestClient) -> None:
    _log_in(client)
    for path in ("/console/nothing-here", "/console/abtests/nope", "/console/segments/nope",
                 "/console/profiles/nope"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
        assert "Page not found" in answer.text and 'href="/console"' in answer.text
    forbidden = client.post("/console/segments", data={"name": "x", "condition": "true"})
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("text/html")
    assert "reload the page" in forbidden.text

    browser = client.get("/no-such-page", headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 404 and "Page not found" in browser.text
    api = client.get("/v1/no-such-thing", headers={"Accept": "text/html"})
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    plain = client.get("/no-such-page")
    assert plain.headers["content-type"] == "application/problem+json"


def test_a_failing_console_page_is_an_html_500(app_client: Any) -> None:
    client: TestClient = app_client()

    async def broken() -> None:
        raise RuntimeError("boom")

    client.app.add_api_route("/console/broken", broken)  # type: ignore[attr-defined]
    quiet = TestClient(client.app, raise_server_exceptions=False)
    answer = quiet.get("/console/broken")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in answer.text and "boom" not in answer.text


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_only_local_assets(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/static/vendor/") for s in sources), sources
    assert "https://" not in page.text and "http://" not in page.text
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 500, source
    assert client.get("/openapi.json").json()["info"]["title"] == "Kairos"
