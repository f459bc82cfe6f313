"""The website snippet on the demo shop page, in a real browser against a real Kairos."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DESKTOP, IPHONE, Server, free_port

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SLOTS = ("hero", "sidebar", "banner", "product_reco")


def _notice(item_id: str, audience: str, text: str) -> dict[str, Any]:
    return {
        "id": item_id, "title": text, "slot": "notice", "channel": "web", "language": "de",
        "template": f"<p class='notice-item'>{text}</p>", "status": "live", "priority": 80,
        "targeting": {"audience": audience},
    }  # fmt: skip


@pytest.fixture(scope="module")
def situational_notices(kairos_server: Server) -> dict[str, str]:
    """Two notice-strip items a marketer targets at a situation (created through the API)."""
    items = {
        "mobile_search": _notice(
            "notice-mobile-search-de",
            'device.type == "mobile" and source.medium == "search"',
            "Unterwegs gesucht? Click & Collect in deiner Filiale.",
        ),
        "newsletter": _notice(
            "notice-newsletter-de", 'source.medium == "email"',
            "Danke fürs Lesen unseres Newsletters: 10 % mit NEWS10.",
        ),
    }  # fmt: skip
    with kairos_server.admin() as client:
        for body in items.values():
            response = client.post("/v1/content", json=body)
            assert response.status_code in (201, 409), response.text
    return {name: body["id"] for name, body in items.items()}


def _filled(page: Page) -> dict[str, str | None]:
    for slot in (*SLOTS, "notice"):
        locator = page.locator(f'[data-kairos-slot="{slot}"]')
        expect(locator).to_have_attribute("data-kairos-filled", "true", timeout=10_000)
    return {
        slot: page.locator(f'[data-kairos-slot="{slot}"]').get_attribute("data-kairos-item")
        for slot in (*SLOTS, "notice")
    }


def test_slots_are_filled_by_situation(
    browser: Browser, kairos_server: Server, situational_notices: dict[str, str], screenshots: Path
) -> None:
    mobile = browser.new_context(
        user_agent=IPHONE, viewport={"width": 390, "height": 844}, is_mobile=True,
        has_touch=True, locale="de-DE", timezone_id="Europe/Berlin",
    )  # fmt: skip
    page = mobile.new_page()
    page.goto(f"{kairos_server.url}/demo", referer="https://www.google.de/")
    from_google = _filled(page)
    why = page.locator("#why-body")
    expect(why).to_contain_text("mobile")
    expect(why).to_contain_text("search")
    page.screenshot(path=str(screenshots / "demo-de-mobile-google.png"), full_page=True)
    mobile.close()

    desktop = browser.new_context(
        user_agent=DESKTOP, viewport={"width": 1280, "height": 900}, locale="de-DE"
    )
    page = desktop.new_page()
    page.goto(f"{kairos_server.url}/demo?utm_medium=email&utm_source=newsletter")
    from_newsletter = _filled(page)
    expect(page.locator("#why-body")).to_contain_text("desktop")
    expect(page.locator("#why-body")).to_contain_text("email")
    page.screenshot(path=str(screenshots / "demo-de-desktop-newsletter.png"), full_page=True)
    desktop.close()

    assert from_google["notice"] == situational_notices["mobile_search"]
    assert from_newsletter["notice"] == situational_notices["newsletter"]
    assert from_google != from_newsletter
    assert all(item for item in from_google.values())


def test_english_page_gets_english_content(browser: Browser, kairos_server: Server,
                                           screenshots: Path) -> None:  # fmt: skip
    context = browser.new_context(user_agent=DESKTOP, locale="en-GB")
    page = context.new_page()
    page.goto(f"{kairos_server.url}/demo?lang=en")
    items = {slot: page.locator(f'[data-kairos-slot="{slot}"]') for slot in SLOTS}
    for locator in items.values():
        expect(locator).to_have_attribute("data-kairos-filled", "true", timeout=10_000)
        assert (locator.get_attribute("data-kairos-item") or "").endswith("-en")
    expect(page.locator("summary")).to_have_text("Why am I seeing this?")
    page.screenshot(path=str(screenshots / "demo-en-desktop.png"), full_page=True)
    context.close()


def _report_row(server: Server, item_id: str) -> dict[str, Any] | None:
    with server.admin() as client:
        report = client.get("/v1/reports/content", params={"group_by": "item"}).json()
    for row in report["rows"]:
        if row["key"] == item_id:
            found: dict[str, Any] = row
            return found
    return None


def _wait_for(server: Server, item_id: str, field: str, at_least: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        row = _report_row(server, item_id)
        if row and row["treatment"][field] + row["control"][field] >= at_least:
            return row
        assert time.monotonic() < deadline, f"{field} of {item_id} not counted: {row}"
        time.sleep(0.2)


def test_impression_and_click_are_recorded(browser: Browser, kairos_server: Server) -> None:
    context = browser.new_context(user_agent=DESKTOP, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{kairos_server.url}/demo")
    sidebar = page.locator('[data-kairos-slot="sidebar"]')
    expect(sidebar).to_have_attribute("data-kairos-filled", "true", timeout=10_000)
    item_id = sidebar.get_attribute("data-kairos-item")
    assert item_id
    before = _wait_for(kairos_server, item_id, "impressions", 1)
    clicks_before = before["treatment"]["clicks"] + before["control"]["clicks"]
    # Click the block itself (not a link in it): the snippet reports it and the page stays.
    sidebar.evaluate("element => element.click()")
    _wait_for(kairos_server, item_id, "clicks", clicks_before + 1)
    context.close()


def test_defaults_stay_when_kairos_is_down(browser: Browser, kairos_server: Server,
                                          screenshots: Path) -> None:  # fmt: skip
    closed = free_port()  # nothing listens there
    context = browser.new_context(user_agent=DESKTOP)
    page = context.new_page()
    page.goto(f"{kairos_server.url}/demo?endpoint=http://127.0.0.1:{closed}")
    hero = page.locator('[data-kairos-slot="hero"]')
    expect(hero).to_have_attribute("data-kairos-filled", "false", timeout=10_000)
    expect(hero).to_contain_text("Willkommen bei Bergfalke")
    for slot in SLOTS:
        element = page.locator(f'[data-kairos-slot="{slot}"]')
        assert element.get_attribute("data-kairos-item") is None
    expect(page.locator("#why-body")).to_contain_text("nicht rechtzeitig", timeout=10_000)
    page.screenshot(path=str(screenshots / "demo-kairos-down.png"), full_page=True)
    context.close()


def test_defaults_stay_when_kairos_is_slow(browser: Browser, kairos_server: Server) -> None:
    context = browser.new_context(user_agent=DESKTOP)
    page = context.new_page()

    def slow(route: Any) -> None:
        time.sleep(1.5)  # longer than the page's timeout of 300 ms
        try:
            route.continue_()
        except Exception:  # the snippet gave up and aborted the request meanwhile
            pass

    page.route("**/v1/decide", slow)
    page.goto(f"{kairos_server.url}/demo?timeout=300")
    hero = page.locator('[data-kairos-slot="hero"]')
    expect(hero).to_have_attribute("data-kairos-filled", "false", timeout=10_000)
    page.wait_for_timeout(2000)  # a late answer must not replace the defaults either
    expect(hero).to_contain_text("Willkommen bei Bergfalke")
    assert hero.get_attribute("data-kairos-item") is None
    context.close()


def test_esi_block_is_rendered_for_the_forwarded_visitor(
    kairos_server: Server, situational_notices: dict[str, str]
) -> None:
    response = httpx.get(
        f"{kairos_server.url}/v1/blocks/notice",
        headers={"X-API-Key": kairos_server.site_key, "User-Agent": DESKTOP},
        params={"url": "https://shop.example/?utm_medium=email", "lang": "de"},
    )
    assert response.status_code == 200
    assert response.headers["x-kairos-item"] == situational_notices["newsletter"]
    assert "NEWS10" in response.text


def test_chat_box_on_the_demo_page(browser: Browser, kairos_server: Server,
                                   screenshots: Path) -> None:  # fmt: skip
    context = browser.new_context(user_agent=DESKTOP, viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.goto(f"{kairos_server.url}/demo")
    log = page.locator("#chat-log")

    def say(message: str, replies: int) -> None:
        page.fill("#chat-input", message)
        page.click("#chat-form button")
        expect(log.locator("li.chat-bot")).to_have_count(replies, timeout=10_000)

    say("Wo ist mein Paket?", 1)
    expect(log.locator("li.chat-bot").last).to_contain_text("Bestellnummer")
    expect(log.locator("li.chat-bot").last).to_have_attribute("data-intent", "track_order")
    expect(page.locator("#chat-quick button").first).to_be_visible()
    say("Der Reißverschluss ist nach einer Woche kaputt", 2)
    expect(log.locator("li.chat-handover")).to_have_count(0)
    say("Und wieder kaputt!", 3)
    expect(log.locator("li.chat-bot").last).to_contain_text("follow-up")
    expect(log.locator("li.chat-handover")).to_have_count(1)
    page.locator("#chat").screenshot(path=str(screenshots / "demo-chat-de.png"))
    context.close()


def _decide_requests(page: Page) -> list[Any]:
    seen: list[Any] = []
    page.on("request", lambda r: seen.append(r) if r.url.endswith("/v1/decide") else None)
    return seen


def test_the_anonymous_visitor_is_remembered_by_a_first_party_cookie(
    browser: Browser, kairos_server: Server
) -> None:
    context = browser.new_context(user_agent=DESKTOP)
    page = context.new_page()
    sent = _decide_requests(page)
    page.goto(f"{kairos_server.url}/demo")
    expect(page.locator('[data-kairos-slot="hero"]')).to_have_attribute(
        "data-kairos-filled", "true", timeout=10_000)
    cookie = next(c for c in context.cookies() if c["name"] == "kairos_aid")
    assert cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert 360 * 86400 < cookie["expires"] - time.time() <= 366 * 86400
    assert cookie["value"].startswith("a-") and len(cookie["value"]) == 34
    first = sent[0]
    assert first.post_data_json["anonymous_id"] == cookie["value"]
    assert "profile_id" not in first.post_data_json
    assert "x-kairos-identity" not in first.headers

    page.goto(f"{kairos_server.url}/demo?lang=en")  # the next page: the same visitor
    expect(page.locator('[data-kairos-slot="hero"]')).to_have_attribute(
        "data-kairos-filled", "true", timeout=10_000)
    assert sent[-1].post_data_json["anonymous_id"] == cookie["value"]
    context.close()
    other = browser.new_context(user_agent=DESKTOP)  # another browser: another visitor
    page = other.new_page()
    page.goto(f"{kairos_server.url}/demo")
    expect(page.locator('[data-kairos-slot="hero"]')).to_have_attribute(
        "data-kairos-filled", "true", timeout=10_000)
    assert next(c for c in other.cookies() if c["name"] == "kairos_aid")["value"] != cookie["value"]
    other.close()


def test_a_logged_in_customer_is_named_by_the_signed_identity(
    browser: Browser, kairos_server: Server, screenshots: Path
) -> None:
    context = browser.new_context(user_agent=DESKTOP, viewport={"width": 1280, "height": 1100},
                                  locale="de-DE")
    page = context.new_page()
    sent = _decide_requests(page)
    page.goto(f"{kairos_server.url}/demo?login=dora")
    expect(page.locator("#account")).to_contain_text("Dora")
    expect(page.locator('[data-kairos-slot="hero"]')).to_have_attribute(
        "data-kairos-filled", "true", timeout=10_000)
    request = sent[0]
    assert request.headers["x-kairos-identity"].startswith("v1.")
    assert "profile_id" not in request.post_data_json  # the token names her, nothing else
    decision = request.response().json()
    assert decision["personalised"] is True and decision["lifecycle"] != "anonymous"
    page.fill("#chat-input", "Hallo")
    page.click("#chat-form button")
    expect(page.locator("#chat-log li.chat-bot")).to_contain_text("Dora", timeout=10_000)
    page.screenshot(path=str(screenshots / "demo-de-logged-in.png"), full_page=True)
    context.close()


def test_a_page_cannot_name_a_customer_without_the_signed_identity(
    kairos_server: Server,
) -> None:
    with httpx.Client(base_url=kairos_server.url, timeout=10) as http:
        http.get("/demo", params={"login": "dora"})  # Dora exists
        answer = http.post("/v1/decide", headers={"X-API-Key": kairos_server.site_key}, json={
            "session_id": "s-x", "profile_id": "demo:dora", "slots": ["hero"]})
    assert answer.status_code == 403
    assert "X-Kairos-Identity" in answer.json()["detail"]
