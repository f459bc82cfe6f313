"""A marketer edits the taxonomy in the console, in a real browser: a mistake is shown on the
page and nothing is saved; a new category is saved, listed and read by the situation."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PADDLING = """
- id: paddling
  labels: {de: Paddeln, en: Paddling}
  descriptions: {de: Kajak und Kanu auf Fluss und See., en: Kayak and canoe on river and lake.}
  synonyms:
    de: [paddeln, kajak, kanu]
    en: [paddling, kayak, canoe]
  path_segments: [paddeln, kajak]
"""

def test_marketer_adds_a_category(
    browser: Browser, kairos_server: Server, screenshots: Path
) -> None:
    with kairos_server.admin() as admin:
        original = admin.get("/v1/taxonomy").json()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{kairos_server.url}/console/login?next=/console/taxonomy")
        page.fill('input[name="key"]', kairos_server.admin_key)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{kairos_server.url}/console/taxonomy")
        expect(page.locator('#categories tr[data-category="hiking"]')).to_contain_text("Wandern")
        expect(page.locator("nav a[aria-current=page]")).to_have_text("Taxonomy")
        text = page.locator('textarea[name="yaml"]').input_value()
        assert text.startswith("categories:")

        # A mistake: an empty German label is shown with its place, nothing is saved.
        page.fill('textarea[name="yaml"]', text.replace("de: Wandern", "de: ''", 1))
        page.click("text=Save taxonomy")
        expect(page.locator("#taxonomy-errors")).to_contain_text("categories.0.labels.de")
        page.screenshot(path=str(screenshots / "console-taxonomy-error.png"))
        expect(page.locator('#categories tr[data-category="hiking"]')).to_contain_text("Wandern")

        # A new category after the existing ones.
        head, sep, tail = text.partition("neutral_words:")
        page.fill('textarea[name="yaml"]', head.rstrip("\n") + PADDLING + sep + tail)
        page.click("text=Save taxonomy")
        expect(page.locator("[role=status]")).to_contain_text("Taxonomy saved")
        page.screenshot(path=str(screenshots / "console-taxonomy-saved.png"))
        row = page.locator('#categories tr[data-category="paddling"]')
        expect(row).to_contain_text("Paddeln")
        expect(row).to_contain_text("kajak")
        row.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "console-taxonomy-new-row.png"))

        with kairos_server.admin() as admin:
            situation = admin.post("/v1/situation", json={"context": {"site_search": "kajak"}})
            assert situation.json()["interests"][0]["category"] == "paddling"
    finally:
        context.close()
        with kairos_server.admin() as admin:
            assert admin.put("/v1/taxonomy", json=original).status_code == 200
