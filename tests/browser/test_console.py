"""A marketer in the console, in a real browser: log in, create an item, view as a visitor,
see the item's impression counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import IPAD, Server

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ITEM = "notice-tablet-console-de"


def _log_in(page: Page, server: Server, screenshots: Path) -> None:
    page.goto(f"{server.url}/console")
    expect(page).to_have_url(f"{server.url}/console/login?next=/console")
    page.screenshot(path=str(screenshots / "console-login.png"))
    page.fill('input[name="key"]', "not-the-key")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("not the admin key")
    page.fill('input[name="key"]', server.admin_key)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/console/content")


def test_marketer_creates_an_item_and_sees_it_work(
    browser: Browser, kairos_server: Server, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _log_in(page, kairos_server, screenshots)

    # The pool: filter by slot and search.
    expect(page.locator("#content-table tbody tr").first).to_be_visible()
    page.select_option('select[name="slot"]', "hero")
    expect(page.locator("#content-table")).not_to_contain_text("sidebar-default-de")
    expect(page.locator("#content-table")).to_contain_text("hero-default-de")
    page.fill('input[name="q"]', "alpensommer")
    expect(page.locator("#content-table tbody tr")).to_have_count(1)
    page.screenshot(path=str(screenshots / "console-content-list.png"), full_page=True)

    # A new item, checked live while typing.
    page.goto(f"{kairos_server.url}/console/content/new")
    page.fill('input[name="id"]', ITEM)
    page.fill('input[name="title"]', "Tablet-Hinweis")
    page.fill('input[name="slot"]', "notice")
    page.fill('textarea[name="template"]', "<p>Auf dem Tablet? {{ item.title ")
    expect(page.locator("#check .errors")).to_contain_text("template", timeout=5000)
    page.fill(
        'textarea[name="template"]',
        "<p>Auf dem {{ situation.device.type }}? Unsere App ist noch bequemer.</p>",
    )
    page.fill('input[name="audience"]', 'device.type == "tablet"')
    page.select_option('select[name="status"]', "live")
    preview = page.locator('#check figure[data-lang="de"] iframe')
    expect(preview).to_be_visible(timeout=5000)
    expect(page.locator('#check figure[data-lang="en"]')).to_be_visible()
    frame = page.frame_locator('#check figure[data-lang="de"] iframe')
    expect(frame.locator("p")).to_contain_text("Auf dem mobile?")
    page.screenshot(path=str(screenshots / "console-content-edit.png"), full_page=True)
    page.click("form#item-form button[type=submit]")
    expect(page).to_have_url(f"{kairos_server.url}/console/content/{ITEM}?saved=1")
    expect(page.locator("p.ok").first).to_contain_text("version 1")

    # View as a tablet visitor: the new item is the notice.
    page.goto(f"{kairos_server.url}/console/visitor")
    page.select_option('select[name="device"]', "ipad")
    page.check('input[name="slots"][value="notice"]')
    page.fill('input[name="utterance"]', "Wo ist die nächste Filiale?")
    page.click("#visitor-form button[type=submit]")
    placed = page.locator(f'#decision [data-slot="notice"] [data-item="{ITEM}"]')
    expect(placed).to_be_visible(timeout=10_000)
    expect(placed.locator(".reasons li").first).to_be_visible()
    expect(page.locator("#decision")).to_contain_text("tablet")
    page.screenshot(path=str(screenshots / "console-view-as-visitor.png"), full_page=True)

    # A real tablet visitor on the demo page sees it; its impression is counted.
    visitor = browser.new_context(user_agent=IPAD, viewport={"width": 820, "height": 1180})
    shop = visitor.new_page()
    shop.goto(f"{kairos_server.url}/demo")
    notice = shop.locator('[data-kairos-slot="notice"]')
    expect(notice).to_have_attribute("data-kairos-item", ITEM, timeout=10_000)
    expect(notice).to_contain_text("Auf dem tablet?")
    visitor.close()

    impressions = page.locator(f'#report-item tr[data-row="{ITEM}"] td[data-col="impressions"]')
    for _ in range(20):
        page.goto(f"{kairos_server.url}/console/results")
        if impressions.count() and impressions.inner_text().strip() not in ("", "0"):
            break
        page.wait_for_timeout(300)
    expect(impressions).to_have_text("1")
    page.screenshot(path=str(screenshots / "console-results.png"), full_page=True)

    page.goto(f"{kairos_server.url}/console/intents")
    expect(page.locator("h1")).to_have_text("Intents")
    expect(page.locator("#metrics")).to_contain_text("accuracy")
    page.click("text=track_order")
    expect(page.locator("#examples")).to_contain_text("wo ist mein paket")
    page.screenshot(path=str(screenshots / "console-intents.png"), full_page=True)

    # Logging out ends the session.
    page.click("form.logout button")
    expect(page).to_have_url(f"{kairos_server.url}/console/login")
    page.goto(f"{kairos_server.url}/console/content")
    expect(page).to_have_url(f"{kairos_server.url}/console/login?next=/console/content")
    context.close()
