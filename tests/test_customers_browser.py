"""The customer profile in a real Chromium on a phone: Jan opens Tom's waiting billing question,
taps Tom's name and sees his profile with how long he has waited and what staff keep about him,
adds a tag and a note in place (a colleague with the profile open sees them at once); Tom, on
his own phone in the same thread, never receives a link to it, on the page or in a frame."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401 - fixtures used by name
    DESK,
    JAN,
    PHONE,
    SCREENSHOTS,
    TOM,
    Screens,
    no_horizontal_overflow,
    open_thread,
    screens,
    server,
    signed_in,
    thread_id,
)

pytestmark = pytest.mark.browser

QUESTION = "Why did my advance payment go up by 30 €?"
MIRA = "mira@nordlicht.example"


def test_staff_open_a_customers_profile_from_a_thread_and_tag_and_note_him(
    screens: Screens,  # noqa: F811
) -> None:
    tom = screens.open(TOM, PHONE)
    tid = thread_id(tom, QUESTION)
    open_thread(tom, tid)
    jan = screens.open(JAN, PHONE)
    open_thread(jan, tid)
    # Tom writes while Jan watches: the live message reaches both, a profile link neither.
    tom.fill("#body", "Any news? I still pay 115 €.")
    tom.locator("#composer button[type=submit]").click()
    live = jan.locator("#messages > li", has_text="Any news?")
    expect(live.locator(".author a")).to_have_attribute("href", re.compile(r"^/people/"))
    frames = tom.evaluate("() => JSON.stringify(window.__frames)")
    assert "Any news?" in frames and "/customers/" not in frames
    assert "/customers/" not in tom.content()

    first = jan.locator("#messages > li", has_text="My monthly advance payment")
    first.locator(".author a", has_text="Tom Becker").click()
    jan.wait_for_url(re.compile(r"/customers/"))
    expect(jan.locator("h1")).to_have_text("Tom Becker")
    expect(jan.locator(".customer-facts")).to_contain_text("tom@example.org")
    waiting = jan.locator("#waiting li", has_text=QUESTION)
    expect(waiting.locator(".customer-waited")).to_contain_text(re.compile(r"waiting \d+ min"))
    expect(jan.locator("#customer-tags")).to_contain_text("e-mobility")
    expect(jan.locator("#customer-notes")).to_contain_text("Prefers e-mail to calls")

    mira = screens.open(MIRA, DESK)  # a colleague has the same profile open
    mira.goto(jan.url)
    expect(mira.locator("#conn")).to_have_attribute("data-state", "live")
    mira.locator("#note-body").fill("Half-typed")
    jan.locator("#new-tag").fill("Solar Roof")
    jan.get_by_role("button", name="Add tag").click()
    expect(jan.locator("#customer-tags .customer-tag", has_text="solar roof")).to_be_visible()
    jan.locator("#note-body").fill("Asked about the **advance payment** twice, call back.")
    jan.get_by_role("button", name="Save note").click()
    newest = jan.locator("#customer-notes .customer-note").first
    expect(newest).to_contain_text("Jan Petersen")
    expect(newest.locator(".body strong")).to_have_text("advance payment")
    # Mira's profile follows along, and keeps what she was typing.
    expect(mira.locator("#customer-tags")).to_contain_text("solar roof")
    expect(mira.locator("#customer-notes .customer-note").first).to_contain_text("twice")
    expect(mira.locator("#note-body")).to_have_value("Half-typed")
    no_horizontal_overflow(jan)
    jan.evaluate("() => window.scrollTo(0, 0)")
    jan.screenshot(path=str(SCREENSHOTS / "customer-profile.png"))
    jan.locator("#new-tag").fill("no_underscores")
    jan.get_by_role("button", name="Add tag").click()
    expect(jan.locator("#form-error")).to_contain_text("is not a tag")

    tom.goto(jan.url)  # the same address on the customer's phone: as if it did not exist
    expect(tom.locator("main")).to_contain_text("page not found")
    assert "solar roof" not in tom.content() and "advance payment** twice" not in tom.content()
