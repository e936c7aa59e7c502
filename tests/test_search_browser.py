"""Search in a real Chromium on a phone (390×844): from the top bar of any page, results come as
one types (no page load), the found words are marked, a tap opens the thread at the message —
and the grid team's staff note in the same thread is found by staff only."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401 - fixtures used by name
    JAN,
    OUTAGE,
    PHONE,
    SCREENSHOTS,
    WEBER,
    Screens,
    no_horizontal_overflow,
    screens,
    server,
    signed_in,
)

pytestmark = pytest.mark.browser

NOTE_WORD = "Muffe"  # only in the grid team's staff note in the outage thread


def test_a_customer_searches_from_the_top_bar_as_she_types_and_opens_the_message(
    screens: Screens,  # noqa: F811
) -> None:
    weber = screens.open(WEBER, PHONE)
    link = weber.locator(".topbar .search-link")
    box = link.bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 44, "big enough to tap"
    link.tap()
    expect(weber).to_have_url(f"{screens.server.url}/search")
    field = weber.get_by_label("Search for")
    expect(field).to_be_focused()
    weber.evaluate("window.__samePage = true")  # gone if the browser loaded a new page

    field.press_sequentially("Kabelsch", delay=60)  # the word is not finished yet
    hit = weber.locator(".hit").first
    expect(hit).to_contain_text("Kabelschaden")
    expect(hit.locator("mark")).to_have_text("Kabelschaden")
    expect(hit.locator(".hit-title")).to_contain_text("Stromausfall")
    assert weber.evaluate("window.__samePage") is True, "results came without a page load"
    assert "q=Kabelsch" in weber.url, "the address keeps the search (back, share, reload)"
    no_horizontal_overflow(weber)
    weber.screenshot(path=str(SCREENSHOTS / "phone-search.png"))

    # The staff note in the same thread is not found, nor is an internal thread.
    field.fill(NOTE_WORD)
    expect(weber.locator("#search-results")).to_contain_text("Nothing found")
    field.fill("smart meters district")
    expect(weber.locator("#search-results")).to_contain_text("Nothing found")

    field.fill("Kabelschaden")
    weber.locator(".hit").first.tap()
    expect(weber).to_have_url(re.compile(r"/threads/[\w-]+#msg-[\w-]+$"))
    expect(weber.locator(".thread-title, h1").first).to_contain_text(OUTAGE)


def test_staff_find_the_staff_note_marked_as_one(screens: Screens) -> None:  # noqa: F811
    jan = screens.open(JAN, PHONE)
    jan.goto(f"/search?q={NOTE_WORD}")
    hit = jan.locator(".hit-note")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text("Staff note")
    expect(hit.locator("mark")).to_have_text(NOTE_WORD)
