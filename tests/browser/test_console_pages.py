"""A marketer clicks through the console's A/B tests, segments, programmes and profiles in a real
browser: empty states, forms with their mistakes shown, live checks, and what the API sees.

Each test puts the shared server back as it found it (no running test on a slot, the original
programmes, no segment or profile left behind), since other browser tests use the same server.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DESKTOP, Server

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def page(browser: Browser, kairos_server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{kairos_server.url}/console/login")
    page.fill('input[name="key"]', kairos_server.admin_key)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{kairos_server.url}/console/content")
    yield page
    context.close()


def test_ab_test_from_empty_state_to_verdict_and_stop(
    page: Page, kairos_server: Server, screenshots: Path
) -> None:
    url = kairos_server.url
    with kairos_server.admin() as admin:
        assert admin.get("/v1/abtests").json() == []
    try:
        page.click("nav >> text=A/B tests")
        expect(page.locator("#empty-state")).to_contain_text("No A/B test yet")
        page.screenshot(path=str(screenshots / "console-abtests-empty.png"))
        page.click("#empty-state >> text=create an A/B test")

        page.fill('input[name="id"]', "hero-browser")
        page.select_option('select[name="slot"]', "hero")
        offered = page.locator('select[name="variant_0_item"] option:not([hidden])')
        assert all(v in ("", "hero") or v.startswith("hero-") for v in
                   offered.evaluate_all("options => options.map(o => o.value)"))
        page.fill('input[name="description"]', "Alpine summer against the default hero")
        page.select_option('select[name="variant_0_item"]', "hero-default-de")
        page.select_option('select[name="variant_1_item"]', "hero-explore-alpine-summer-de")
        page.fill('input[name="variant_1_share"]', "70")  # 50 + 70: refused
        page.click("text=Create A/B test")
        expect(page.locator("#form-errors")).to_contain_text("shares must add up to 100 %")
        expect(page.locator('input[name="description"]')).to_have_value(
            "Alpine summer against the default hero")
        page.screenshot(path=str(screenshots / "console-abtest-form-error.png"), full_page=True)
        page.fill('input[name="variant_1_share"]', "50")
        page.click("text=Create A/B test")
        expect(page).to_have_url(f"{url}/console/abtests/hero-browser")
        expect(page.locator("h1")).to_contain_text("running")

        # Visitors take part; the page refreshes itself and shows them with the verdict.
        with kairos_server.admin() as admin:
            for n in range(6):
                answer = admin.post("/v1/decide", json={
                    "session_id": f"s-{n}", "profile_id": f"ab-browser-{n}", "slots": ["hero"],
                    "context": {"url": "https://shop.example/de/", "user_agent": DESKTOP,
                                "accept_language": "de-DE"}})  # fmt: skip
                assert answer.status_code == 200, answer.text
        page.reload()
        expect(page.locator("#verdict")).to_contain_text("running: no significant difference")
        cells = page.locator("#variant-results tbody tr td:nth-child(4)").all_inner_texts()
        assert sum(int(c) for c in cells) == 6
        page.screenshot(path=str(screenshots / "console-abtest-watch.png"), full_page=True)

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("text=Stop test")
        expect(page.locator("h1")).to_contain_text("stopped")
        expect(page.locator(".kv")).to_contain_text("stopped in the console")
        page.click("text=← A/B tests")
        expect(page.locator('tr[data-test="hero-browser"]')).to_contain_text("stopped")
        page.screenshot(path=str(screenshots / "console-abtests-list.png"))
    finally:
        with kairos_server.admin() as admin:
            admin.post("/v1/abtests/hero-browser/stop")
            admin.delete("/v1/abtests/hero-browser")


def test_ab_test_stops_itself_with_a_verdict(
    page: Page, kairos_server: Server, screenshots: Path
) -> None:
    """Purchases as the goal, a variant that sells far better: the sequential test decides, the
    test stops by its rule, and the page says who won and why it stopped."""
    url = kairos_server.url
    try:
        page.goto(f"{url}/console/abtests/new")
        page.fill('input[name="id"]', "hero-verdict")
        page.select_option('select[name="slot"]', "hero")
        page.fill('input[name="description"]', "Does the alpine summer hero sell more?")
        page.fill('input[name="goal"]', "purchase")
        page.select_option('select[name="variant_0_item"]', "hero-default-de")
        page.select_option('select[name="variant_1_item"]', "hero-explore-alpine-summer-de")
        page.click("text=Statistics")
        page.fill('input[name="baseline_rate"]', "10")
        page.fill('input[name="minimum_effect"]', "300")
        page.click("text=Create A/B test")
        expect(page).to_have_url(f"{url}/console/abtests/hero-verdict")

        alpine = "hero-explore-alpine-summer-de"
        with kairos_server.admin() as admin:
            for n in range(60):
                who = f"ab-verdict-{n}"
                answer = admin.post("/v1/decide", json={
                    "session_id": f"sv-{n}", "profile_id": who, "slots": ["hero"],
                    "context": {"url": "https://shop.example/de/", "user_agent": DESKTOP,
                                "accept_language": "de-DE"}})  # fmt: skip
                [shown] = answer.json()["slots"]["hero"]
                if shown["item_id"] == alpine and n % 4 != 0:  # 3 of 4 buy; the control: none
                    batch = [{"event_id": uuid.uuid4().hex, "profile_id": who,
                              "type": "purchase", "properties": {
                                  "order_id": f"o-{who}", "value": 40, "currency": "EUR",
                                  "items": [{"product_id": "tent-2", "category": "camping"}]}}]
                    assert admin.post("/v1/events", json={"events": batch}).status_code == 200
        page.reload()
        expect(page.locator("h1")).to_contain_text("stopped")
        expect(page.locator("#verdict")).to_contain_text(
            re.compile(r"variant_b beats the control by \+\d+\.\d pp \(p = .+\), decided by the "
                       r"sequential test"))
        expect(page.locator(".kv")).to_contain_text("stop rule met")
        expect(page.locator('#variant-results tr[data-variant="variant_b"]')).to_contain_text(
            "significant")
        page.screenshot(path=str(screenshots / "console-abtest-verdict.png"), full_page=True)
    finally:
        with kairos_server.admin() as admin:
            admin.post("/v1/abtests/hero-verdict/stop")
            admin.delete("/v1/abtests/hero-verdict")
            for n in range(60):
                admin.delete(f"/v1/profiles/ab-verdict-{n}")


def test_segment_built_with_live_size(page: Page, kairos_server: Server, screenshots: Path) -> None:
    url = kairos_server.url
    tag = uuid.uuid4().hex[:6]
    people = {f"seg-big-{tag}-{n}": 7777 for n in range(2)} | {f"seg-small-{tag}": 10}
    with kairos_server.admin() as admin:
        for who, value in people.items():
            batch = [{"event_id": uuid.uuid4().hex, "profile_id": who, "type": "purchase",
                      "properties": {"order_id": f"o-{who}", "value": value, "currency": "EUR",
                                     "items": [{"product_id": "tent-2",
                                                "category": "camping"}]}}]  # fmt: skip
            assert admin.post("/v1/events", json={"events": batch}).status_code == 200
    try:
        page.goto(f"{url}/console/segments")
        expect(page.locator("#empty-state")).to_contain_text("No segment yet")
        page.click("#empty-state >> text=Build the first segment")

        page.fill('input[name="name"]', "browser_mobile")
        condition = page.locator('textarea[name="condition"]')
        condition.fill('device.type == "mobile" and (')
        expect(page.locator("#condition-errors")).to_contain_text("at character", timeout=5000)
        expect(page.locator("#condition-errors mark")).to_be_visible()
        page.screenshot(path=str(screenshots / "console-segment-error.png"))
        condition.fill('affinity("knitting") > 0.3')
        expect(page.locator("#condition-errors")).to_contain_text("unknown topic 'knitting'")
        condition.fill("profile.monetary > 7000")
        expect(page.locator("#live-size")).to_contain_text("Matches 2 of", timeout=5000)
        page.screenshot(path=str(screenshots / "console-segment-live-size.png"))
        page.fill('input[name="description"]', "Spent more than 7,000 EUR")
        page.click("text=Save segment")
        expect(page.locator("[role=status]")).to_contain_text("browser_mobile")
        row = page.locator('tr[data-segment="browser_mobile"]')
        expect(row.locator("td.num .size")).to_have_text("2", timeout=5000)
        page.screenshot(path=str(screenshots / "console-segments-list.png"))

        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("text=Delete").click()
        expect(page.locator("[role=status]")).to_contain_text("deleted")
    finally:
        with kairos_server.admin() as admin:
            admin.delete("/v1/segments/browser_mobile")
            for who in people:
                admin.delete(f"/v1/profiles/{who}")


def test_programme_switched_off_and_yaml_checked(
    page: Page, kairos_server: Server, screenshots: Path
) -> None:
    url = kairos_server.url
    yaml_type = {"Accept": "application/yaml"}
    with kairos_server.admin() as admin:
        original = admin.get("/v1/programmes", headers=yaml_type).text
    try:
        page.goto(f"{url}/console/programmes")
        welcome = page.locator('section[data-programme="welcome"]')
        expect(welcome).to_contain_text("Welcome series")
        welcome.locator("text=Switch off").click()
        expect(page.locator("[role=status]")).to_contain_text("welcome switched off")
        expect(welcome.locator(".status")).to_have_text("off")
        page.screenshot(path=str(screenshots / "console-programmes.png"))
        with kairos_server.admin() as admin:
            listed = admin.get("/v1/programmes").json()["programmes"]
        assert {p["id"]: p["enabled"] for p in listed}["welcome"] is False

        text = page.locator('textarea[name="yaml"]').input_value()
        page.fill('textarea[name="yaml"]', text.replace("delay: 3d", "delay: three days", 1))
        page.click("text=Save programmes")
        expect(page.locator("#programme-errors")).to_contain_text("is not a duration")
        expect(page.locator('textarea[name="yaml"]')).to_have_value(
            re.compile("delay: three days"))
        page.screenshot(path=str(screenshots / "console-programmes-error.png"))
    finally:
        with kairos_server.admin() as admin:
            assert admin.put("/v1/programmes", content=original,
                             headers={"Content-Type": "application/yaml"}).status_code == 200


def test_profile_found_read_exported_and_erased(
    page: Page, kairos_server: Server, screenshots: Path, tmp_path: Path
) -> None:
    url = kairos_server.url
    who = f"browser-{uuid.uuid4().hex[:6]}"
    events = [
        {"type": "consent_update", "properties": {"consents": {"email": True,
                                                             "personalisation": True}}},
        {"type": "page_view", "properties": {"url": "https://shop.example/de/zelte"}},
        {"type": "product_view", "properties": {"product_id": "tent-2", "category": "camping"}},
        {"type": "product_view", "properties": {"product_id": "boot-1", "category": "hiking"}},
        {"type": "add_to_cart",
         "properties": {"product_id": "tent-2", "price": 249, "category": "camping"}},
    ]  # fmt: skip
    with kairos_server.admin() as admin:
        batch = [{"event_id": uuid.uuid4().hex, "profile_id": who, **e} for e in events]
        assert admin.post("/v1/events", json={"events": batch}).status_code == 200
    try:
        page.goto(f"{url}/console/profiles")
        page.fill('input[name="q"]', "no-such-person")
        page.click("text=Open profile")
        expect(page.locator("#not-found")).to_contain_text("No profile with the id")
        page.fill('input[name="q"]', who)
        page.click("text=Open profile")
        expect(page).to_have_url(f"{url}/console/profiles/{who}")
        expect(page.locator("#timeline tbody tr")).to_have_count(5)
        expect(page.locator("#timeline tbody tr").first).to_contain_text("add_to_cart")
        expect(page.locator('#affinities tr[data-topic="camping"]')).to_be_visible()
        expect(page.locator('#consents tr[data-purpose="email"]')).to_contain_text("granted")
        expect(page.locator('#actions tr[data-status="pending"]').first).to_contain_text(
            "cart_abandonment")
        page.screenshot(path=str(screenshots / "console-profile.png"), full_page=True)

        with page.expect_download() as download:
            page.click("text=Export JSON")
        saved = tmp_path / "export.json"
        download.value.save_as(saved)
        exported = json.loads(saved.read_text())
        assert exported["profile_id"] == who and len(exported["events"]) == 5

        page.click("text=Erase…")
        page.fill('input[name="confirm"]', "not-the-id")
        page.click("text=Erase everything")
        expect(page.locator("#erase-error")).to_contain_text("nothing was erased")
        page.screenshot(path=str(screenshots / "console-profile-erase.png"))
        page.fill('input[name="confirm"]', who)
        page.click("text=Erase everything")
        expect(page.locator("[role=status]")).to_contain_text("was erased")
        with kairos_server.admin() as admin:
            assert admin.get(f"/v1/profiles/{who}").status_code == 404
    finally:
        with kairos_server.admin() as admin:
            admin.delete(f"/v1/profiles/{who}")


def test_unknown_console_page_is_a_page(page: Page, kairos_server: Server,
                                        screenshots: Path) -> None:
    answer = page.goto(f"{kairos_server.url}/console/no-such-page")
    assert answer is not None and answer.status == 404
    expect(page.locator("#error-page")).to_contain_text("Page not found")
    page.screenshot(path=str(screenshots / "console-404.png"))
    page.click("text=Go to the console")
    expect(page).to_have_url(f"{kairos_server.url}/console/content")
