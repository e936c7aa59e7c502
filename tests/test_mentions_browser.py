"""@mentions in a real Chromium on phones (390×844): the field technician types "@gi" and picks
Mrs Weber from the list; her open app counts the mention at once and her Mentions view shows
it; in a staff note she is not offered, and naming her anyway is refused with the reason."""

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
    confirmed,
    no_horizontal_overflow,
    open_thread,
    screens,
    server,
    signed_in,
    thread_id,
)

pytestmark = pytest.mark.browser


def test_an_employee_picks_a_customer_from_the_list_and_her_app_counts_it_live(
    screens: Screens,  # noqa: F811
) -> None:
    weber = screens.open(WEBER, PHONE)
    tid = thread_id(weber, OUTAGE)
    badge = weber.locator("#mention-count")
    expect(badge).to_be_hidden()

    jan = screens.open(JAN, PHONE)
    open_thread(jan, tid)
    composer = jan.locator("#body")
    composer.press_sequentially("Frau Weber @gi", delay=40)
    choices = jan.locator("#mention-list [role=option]")
    expect(choices.first).to_contain_text("Gisela Weber")
    box = choices.first.bounding_box()
    assert box and box["height"] >= 44, "big enough to tap"
    no_horizontal_overflow(jan)
    jan.screenshot(path=str(SCREENSHOTS / "phone-mention.png"))
    choices.first.tap()
    expect(composer).to_have_value("Frau Weber @weber ")
    composer.press_sequentially("der Trupp ist unterwegs.", delay=10)
    send = jan.locator("#composer button[type=submit]")
    send.tap()
    confirmed(jan, "der Trupp ist unterwegs")
    link = jan.locator("#messages a.mention", has_text="@weber")
    expect(link).to_have_attribute("href", re.compile(r"^/people/[\w-]+$"))

    expect(badge).to_have_text("1 unread")  # live, without a reload
    weber.locator(".mentions-link").tap()
    item = weber.locator(".mentions .hit").first
    expect(item).to_contain_text("der Trupp ist unterwegs")
    expect(item).to_have_class(re.compile(r"\bunread\b"))
    weber.reload()
    expect(weber.locator("#mention-count")).to_be_hidden()

    # In a staff note she is not offered, and naming her anyway is refused, saying why.
    jan.locator("input[name=audience][value=staff]").check()
    composer.fill("")
    composer.press_sequentially("@gi", delay=40)
    expect(jan.locator("#mention-list")).to_be_hidden()
    composer.fill("Frag @weber nach dem Zählerstand")
    send.tap()
    failed = jan.locator("#messages > li.failed")
    expect(failed).to_contain_text("Gisela Weber cannot read this")
