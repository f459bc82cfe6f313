"""The marketer console through HTTP: login, session and CSRF, content pages, view as visitor,
results and intents."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.console.session import COOKIE
from tests.service.apps import ADMIN, ADMIN_KEY, DEMO_CONTENT, SITE, SITE_KEY, AppClient

MODEL_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "intent-models-hashing"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


APP_SETTINGS = {"holdout_share": 0, "session_secret": "console-test-secret",
                "intent_encoder": "hashing", "intent_model_dir": MODEL_CACHE,
                "content_dir": DEMO_CONTENT}


def _log_in(client: TestClient) -> str:
    """Log in and return the session's CSRF token."""
    response = client.post("/console/login", data={"key": ADMIN_KEY}, follow_redirects=False)
    assert response.status_code == 303
    page = client.get("/console/content")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def _form(**fields: Any) -> dict[str, Any]:
    base = {
        "id": "hero-console-test-de", "title": "Konsolentest", "slot": "hero",
        "channel": "web", "language": "de", "status": "live", "priority": "70",
        "template": "<h1>Hallo {{ situation.device.type }}</h1>",
        "categories": "hiking, camping", "tags": "test", "phases": ["explore"],
    }  # fmt: skip
    return {**base, **fields}


def test_pages_need_a_login(client: TestClient) -> None:
    page = client.get("/console/content", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/console/login?next=/console/content"
    partial = client.get("/console/content", headers={"HX-Request": "true"})
    assert partial.status_code == 401
    assert partial.headers["hx-redirect"] == "/console/login"


def test_login_with_the_admin_key_only(client: TestClient) -> None:
    wrong = client.post("/console/login", data={"key": SITE_KEY})
    assert wrong.status_code == 401
    assert "not the admin key" in wrong.text
    assert COOKIE not in client.cookies

    right = client.post(
        "/console/login", data={"key": ADMIN_KEY, "next": "https://evil.example/"},
        follow_redirects=False,
    )  # fmt: skip
    assert right.status_code == 303
    assert right.headers["location"] == "/console/content"  # no open redirect
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert ADMIN_KEY not in cookie


def test_forged_or_stale_sessions_are_refused(client: TestClient, app_client: AppClient) -> None:
    client.cookies.set(COOKIE, "forged.cookie.value")
    assert client.get("/console/content", follow_redirects=False).status_code == 303
    client.cookies.clear()

    _log_in(client)
    cookie = client.cookies[COOKIE]
    # The same secret, but the admin key was rotated: the old session ends.
    rotated = app_client(admin_key="admin-rotated")
    rotated.cookies.set(COOKIE, cookie)
    assert rotated.get("/console/content", follow_redirects=False).status_code == 303


def test_posts_need_the_csrf_token(client: TestClient) -> None:
    csrf = _log_in(client)
    refused = client.post("/console/content", data=_form())
    assert refused.status_code == 403
    accepted = client.post("/console/content", data={**_form(), "csrf_token": csrf},
                           follow_redirects=False)  # fmt: skip
    assert accepted.status_code == 303


def test_the_session_opens_the_admin_api_only_with_csrf_for_writes(client: TestClient) -> None:
    csrf = _log_in(client)
    assert client.get("/v1/content", params={"slot": "hero"}).status_code == 200
    body = {"id": "api-via-session-de", "title": "t", "slot": "hero", "channel": "web",
            "language": "de", "template": "<p>x</p>"}  # fmt: skip
    assert client.post("/v1/content", json=body).status_code == 401
    created = client.post("/v1/content", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    client.post("/console/logout", data={"csrf_token": csrf})
    assert client.get("/v1/content").status_code == 401


def test_create_and_edit_an_item(client: TestClient) -> None:
    csrf = _log_in(client)
    broken = client.post("/console/content", data={
        **_form(template="<h1>{{ situation.device.type </h1>"), "csrf_token": csrf,
    })  # fmt: skip
    assert broken.status_code == 422
    assert "template" in broken.text and "line 1" in broken.text
    untaxed = client.post("/console/content", data={
        **_form(categories="hiking, wanderen"), "csrf_token": csrf,
    })  # fmt: skip
    assert untaxed.status_code == 422
    assert "unknown category &#39;wanderen&#39; — known: " in untaxed.text

    created = client.post("/console/content", data={**_form(), "csrf_token": csrf},
                          follow_redirects=False)  # fmt: skip
    assert created.headers["location"] == "/console/content/hero-console-test-de?saved=1"
    item = client.get("/v1/content/hero-console-test-de").json()
    assert item["version"] == 1 and item["status"] == "live"
    assert item["targeting"]["phases"] == ["explore"]
    assert item["targeting"]["categories"] == ["hiking", "camping"]

    edited = client.post(
        "/console/content/hero-console-test-de",
        data={**_form(title="Neu", phases=["explore", "consider"]), "version": "1",
              "csrf_token": csrf},
        follow_redirects=False,
    )  # fmt: skip
    assert edited.status_code == 303
    assert client.get("/v1/content/hero-console-test-de").json()["version"] == 2

    stale = client.post(
        "/console/content/hero-console-test-de",
        data={**_form(title="Alt"), "version": "1", "csrf_token": csrf},
    )
    assert stale.status_code == 422
    assert "version 2, not 1" in stale.text


def test_live_check_previews_in_german_and_english(client: TestClient) -> None:
    csrf = _log_in(client)
    check = client.post(
        "/console/content/check",
        data=_form(id="hero-default-de",
                   template="<p>{{ situation.language }} <b>{{ first_name }}</b></p>"),
        headers={"X-CSRF-Token": csrf},
    )  # fmt: skip
    assert check.status_code == 200
    assert 'data-lang="de"' in check.text and 'data-lang="en"' in check.text
    assert "&lt;p&gt;de &lt;b&gt;Alex&lt;/b&gt;&lt;/p&gt;" in check.text  # srcdoc, escaped once
    assert "hero-default-en" in check.text  # the sibling in the other language

    bad = client.post(
        "/console/content/check", data=_form(audience="device.type ==", template="{{ x }}"),
        headers={"X-CSRF-Token": csrf},
    )  # fmt: skip
    assert "targeting.audience" in bad.text


def test_list_filters(client: TestClient) -> None:
    _log_in(client)
    heroes = client.get("/console/content", params={"slot": "hero"})
    ids = set(re.findall(r'data-item="([^"]+)"', heroes.text))
    assert ids and all(i.startswith("hero-") for i in ids)
    use = client.get("/console/content", params={"phase": "use", "language": "en"})
    found = set(re.findall(r'data-item="([^"]+)"', use.text))
    assert found and all(i.endswith("-en") for i in found)
    table = client.get("/console/content", params={"q": "alpensommer"},
                       headers={"HX-Request": "true", "HX-Target": "content-table"})
    assert table.text.startswith('<div id="content-table">')
    assert re.findall(r'data-item="([^"]+)"', table.text) == ["hero-explore-alpine-summer-de"]


def test_list_filters_by_category_and_channel_like_the_api(client: TestClient) -> None:
    csrf = _log_in(client)
    client.post("/console/content", data={
        **_form(id="push-console-test-de", slot="notification", channel="push",
                template="Kletterwand offen", categories="climbing"), "csrf_token": csrf,
    })  # fmt: skip

    def shown(**params: str) -> list[str]:
        page = client.get("/console/content", params=params)
        return re.findall(r'data-item="([^"]+)"', page.text)

    assert "push-console-test-de" in shown(category="Climbing")
    assert all(i != "push-console-test-de" for i in shown(category="hiking"))
    assert "push-console-test-de" in shown(channel="push")
    assert all(i != "push-console-test-de" for i in shown(channel="web"))
    # the same query on the API finds the same items
    assert [i["id"] for i in client.get("/v1/content", params={"q": "kletterwand"}).json()] == (
        shown(q="kletterwand")
    )


def test_view_as_visitor_explains_without_counting(client: TestClient) -> None:
    csrf = _log_in(client)
    page = client.post("/console/visitor", data={
        "device": "iphone", "search_term": "wanderschuhe", "lifecycle": "loyal",
        "interests": "hiking", "slots": ["hero", "sidebar"], "lang": "de",
    }, headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert page.status_code == 200
    assert "<dd>mobile</dd>" in page.text
    assert "search (“wanderschuhe”)" in page.text
    assert "loyal · personalised" in page.text
    assert page.text.count('class="placed"') == 2
    assert "weight" in page.text  # the scoring terms are listed as reasons
    report = client.get("/v1/reports/content").json()
    assert report["total"]["treatment"]["served"] == 0  # a preview is not a showing


def test_results_chart_what_happened(client: TestClient) -> None:
    _log_in(client)
    decision = client.post("/v1/decide", headers={**SITE, "User-Agent": IPHONE},
                           json={"session_id": "s-results", "slots": ["hero"]}).json()  # fmt: skip
    item = decision["slots"]["hero"][0]["item_id"]
    for event in ("impression", "click"):
        client.post("/v1/feedback", headers=SITE, json={
            "decision_id": decision["decision_id"], "item_id": item, "event": event,
        })  # fmt: skip
    page = client.get("/console/results")
    assert page.status_code == 200
    row = re.search(rf'<tr data-row="{re.escape(item)}">(.*?)</tr>', page.text, re.S)
    assert row
    assert '<td class="num" data-col="impressions">1</td>' in row.group(1)
    assert '<td class="num" data-col="clicks">1</td>' in row.group(1)
    assert page.text.count("<svg") == 4


@pytest.fixture
def intent_client(tmp_path: Path, app_client: AppClient) -> TestClient:
    model_dir = tmp_path / "models"
    if MODEL_CACHE.exists():  # the test adds examples to its own copy of the trained model
        shutil.copytree(MODEL_CACHE, model_dir)
    return app_client(intent_model_dir=model_dir)


def test_intents_browse_and_add_examples(intent_client: TestClient) -> None:
    csrf = _log_in(intent_client)
    page = intent_client.get("/console/intents", params={"intent": "track_order"})
    assert page.status_code == 200
    assert "wo ist mein paket" in page.text
    assert 'id="metrics"' in page.text and "macro_f1" in page.text
    added = intent_client.post("/console/intents/examples", data={
        "text": "Wann kommt meine Daunenjacke an?", "intent": "track_order", "lang": "de",
        "csrf_token": csrf,
    }, follow_redirects=True)  # fmt: skip
    assert added.status_code == 200
    assert "Wann kommt meine Daunenjacke an?" in added.text
    unknown = intent_client.post("/console/intents/examples", data={
        "text": "x y z", "intent": "no_such_intent", "lang": "de", "csrf_token": csrf,
    })  # fmt: skip
    assert unknown.status_code == 422


def test_taxonomy_page_lists_and_saves_with_the_api_checks(client: TestClient) -> None:
    csrf = _log_in(client)
    page = client.get("/console/taxonomy")
    assert page.status_code == 200 and 'data-category="hiking"' in page.text
    assert 'href="/console/taxonomy"' in page.text
    text = client.get("/v1/taxonomy?format=yaml", headers=ADMIN).text
    no_csrf = client.post("/console/taxonomy", data={"yaml": text})
    assert no_csrf.status_code == 403
    broken = client.post("/console/taxonomy", data={
        "yaml": text.replace("de: Wandern", "de: ''", 1), "csrf_token": csrf})  # fmt: skip
    assert broken.status_code == 422 and "categories.0.labels.de" in broken.text
    made = client.post("/v1/content", json=_item_naming("climbing"), headers=ADMIN)
    assert made.status_code == 201, made.text
    renamed = text.replace("- id: climbing", "- id: klettern", 1)
    in_use = client.post("/console/taxonomy", data={"yaml": renamed, "csrf_token": csrf})
    assert in_use.status_code == 422 and "tax-console-climb" in in_use.text
    saved = client.post("/console/taxonomy", data={
        "yaml": text.replace("de: Wandern", "de: Wandern & Trekking", 1), "csrf_token": csrf,
    }, follow_redirects=False)  # fmt: skip
    assert saved.headers["location"] == "/console/taxonomy?saved=1"
    assert "Wandern &amp; Trekking" in client.get("/console/taxonomy").text


def _item_naming(category: str) -> dict[str, Any]:
    return {"id": "tax-console-climb", "title": "Klettern", "slot": "hero", "channel": "web",
            "language": "de", "template": "<p>x</p>", "status": "live",
            "targeting": {"categories": [category]}}  # fmt: skip
