"""Community answers in a real Chromium, three customers on their phones (390×844): Frau Weber
asks, Tom answers her, she taps "Accept" and Lena's open page shows the accepted answer at once;
Lena finds it helpful and everyone's count changes live, her button alone pressed; Tom's profile
then counts his accepted answer and shows his first badge."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401 - fixtures used by name
    LENA,
    PHONE,
    SCREENSHOTS,
    TOM,
    WEBER,
    Screens,
    confirmed,
    message,
    no_horizontal_overflow,
    open_thread,
    screens,
    server,
    signed_in,
    write,
)

pytestmark = pytest.mark.browser

QUESTION = "Welche Zahl auf dem Smart Meter ist mein Verbrauch?"
ANSWER = "Der Wert hinter 1.8.0 – mit der Taschenlampe weiterblättern."


def test_a_customer_accepts_another_customers_answer_and_all_see_it_and_its_helpful_count_live(
    screens: Screens,  # noqa: F811
) -> None:
    weber = screens.open(WEBER, PHONE)
    weber.goto("/threads/new")
    weber.fill("#title", QUESTION)
    weber.fill("#body", "Mein neuer Zähler zeigt mehrere Werte im Wechsel.")
    weber.get_by_role("button", name="Post").click()
    expect(weber.locator("#thread-head h1")).to_have_text(QUESTION)
    tid = weber.url.rsplit("/", 1)[1]
    expect(weber.locator(".mark-answer")).to_have_count(0)  # nothing to accept yet

    tom = screens.open(TOM, PHONE)
    open_thread(tom, tid)
    write(tom, ANSWER)
    confirmed(tom, ANSWER)
    expect(tom.locator(".mark-answer")).to_have_count(0)  # not his question: no Accept
    lena = screens.open(LENA, PHONE)
    open_thread(lena, tid)
    expect(lena.locator("#official-answer")).to_be_hidden()
    expect(lena.locator(".mark-answer")).to_have_count(0)

    # Frau Weber taps Accept under Tom's answer (she gets no button on her own question).
    toms = message(weber, ANSWER)
    expect(toms).to_be_visible()
    accept = toms.get_by_role("button", name="Accept as answer")
    box = accept.bounding_box()
    assert box and box["height"] >= 44, "big enough to tap"
    accept.click()
    answer = weber.locator("#official-answer")
    expect(answer).to_contain_text("Accepted answer")
    expect(toms.locator(".mark-answer")).to_have_text("Undo: not the answer")

    # Lena's open page shows it at once, with Tom's first badge and the answered status.
    answer = lena.locator("#official-answer")
    expect(answer).to_be_visible()
    expect(answer).to_contain_text("Accepted answer")
    expect(answer).to_contain_text("Tom Becker")
    expect(answer).to_contain_text("First answer")
    expect(answer).to_contain_text("1.8.0")
    expect(lena.locator("#thread-head .chip.status-answered")).to_be_visible()

    # Lena finds it helpful: her button is pressed, every open page counts it.
    helpful = message(lena, ANSWER).get_by_role("button", name="Helpful")
    box = helpful.bounding_box()
    assert box and box["height"] >= 44, "big enough to tap"
    helpful.click()
    expect(helpful).to_have_attribute("aria-pressed", "true")
    for page in (lena, weber, tom):
        expect(message(page, ANSWER).locator(".helpful-count")).to_have_text(
            re.compile(r"1 found this helpful")
        )
    weber_button = message(weber, ANSWER).get_by_role("button", name="Helpful")
    expect(weber_button).to_have_attribute("aria-pressed", "false")  # Lena's mark is hers
    expect(message(tom, ANSWER).get_by_role("button", name="Helpful")).to_have_count(0)
    no_horizontal_overflow(lena)
    lena.screenshot(path=str(SCREENSHOTS / "accepted-answer.png"))

    # Tom's public profile counts it: one accepted answer, found helpful once, a first badge.
    weber.locator("#official-answer .answer-author").click()
    expect(weber.locator("#recognition")).to_contain_text("1 accepted answer")
    expect(weber.locator("#recognition")).to_contain_text("1 found helpful")
    expect(weber.locator("#recognition .recognition-badge")).to_have_text(
        re.compile("First answer")
    )
    no_horizontal_overflow(weber)
