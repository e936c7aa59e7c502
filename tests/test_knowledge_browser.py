"""Knowledge in a real Chromium: two employees edit the demo's smart-meter article at once — the
one who saves second is told while still typing and then shown the change, his text kept; a
customer reads the same article in the help centre on her phone, its contents list leading to
each section."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401 - fixtures used by name
    DESK,
    JAN,
    PHONE,
    SCREENSHOTS,
    TABLET_EN_DARK,
    WEBER,
    Screens,
    no_horizontal_overflow,
    screens,
    server,
    signed_in,
)

pytestmark = pytest.mark.browser

MIRA = "mira@nordlicht.example"
ARTICLE = "So lesen Sie Ihren Smart Meter ab"


def test_the_second_editor_is_told_at_once_and_shown_the_change_with_his_text_kept(
    screens: Screens,  # noqa: F811
) -> None:
    jan = screens.open(JAN, TABLET_EN_DARK)
    jan.goto("/knowledge")
    jan.get_by_role("link", name=ARTICLE).click()
    jan.get_by_role("link", name="Edit").click()
    expect(jan.locator("#conn")).to_have_attribute("data-state", "live")
    jan.locator("#a-body").press("Control+End")
    jan.locator("#a-body").type("\n\nJan: Bei Minusgraden dauert es länger.")

    mira = screens.open(MIRA, DESK)
    mira.goto(jan.url)
    body = mira.locator("#a-body")
    body.fill(body.input_value().replace("kurz auf", "zwei Sekunden auf"))
    mira.locator("#a-note").fill("Wie lange leuchten")
    mira.get_by_role("button", name="Save").click()
    expect(mira.locator("h1")).to_have_text(ARTICLE)

    news = jan.locator("#article-news")
    expect(news).to_be_visible()
    expect(news).to_contain_text("Mira Yilmaz saved revision 2 while you were editing")
    jan.get_by_role("button", name="Save").click()
    expect(jan.locator(".error")).to_contain_text("someone saved revision 2")
    expect(jan.locator(".theirs .diff-added")).to_contain_text("zwei Sekunden auf")
    expect(jan.locator("#a-body")).to_have_value(re.compile("Bei Minusgraden dauert es länger"))
    jan.screenshot(path=str(SCREENSHOTS / "tablet-edit-conflict.png"), full_page=True)
    # He takes her change into his text and saves again: revision 3, both changes in it.
    merged = jan.locator("#a-body").input_value().replace("kurz auf", "zwei Sekunden auf")
    jan.locator("#a-body").fill(merged)
    jan.get_by_role("button", name="Save").click()
    expect(jan.locator(".article-body")).to_contain_text("zwei Sekunden auf")
    expect(jan.locator(".article-body")).to_contain_text("Bei Minusgraden")
    expect(jan.locator(".tmeta")).to_contain_text("Revision 3")


def test_a_customer_reads_the_help_centre_on_her_phone(screens: Screens) -> None:  # noqa: F811
    weber = screens.open(WEBER, PHONE)
    weber.get_by_role("link", name="Help").click()
    weber.get_by_role("link", name=ARTICLE).click()
    toc = weber.locator(".toc")
    expect(toc).to_be_visible()
    expect(weber.locator(".article-actions")).to_have_count(0)  # no editing for customers
    no_horizontal_overflow(weber)
    weber.screenshot(path=str(SCREENSHOTS / "phone-help.png"))
    toc.get_by_role("link", name="Welcher Wert ist mein Verbrauch?").click()
    heading = weber.locator("#h-welcher-wert-ist-mein-verbrauch")
    expect(heading).to_be_in_viewport()
    top = heading.bounding_box()
    bar = weber.locator(".topbar").bounding_box()
    assert top and bar and top["y"] >= bar["y"] + bar["height"] - 1, "not under the top bar"
